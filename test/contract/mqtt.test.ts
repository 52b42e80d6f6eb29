import { after, before, type TestContext } from 'node:test';
import type { Sink } from '../../src/sinks/sink.js';
import { rowEvent } from '../support/events.js';
import { MosquittoBroker, MqttSubscriber, SUBSCRIBER_ACL, type BrokerUser, type Received } from '../support/mqtt.js';
import { silentContext, sinkFromConfig } from '../support/sink-config.js';
import { forward, freePort } from '../support/tcp.js';
import { BODY_FORMATS, binaryCloudEvent, DATABASE, runSinkContract, type Arrival, type FarEnd, type Scope } from './sink-contract.js';

/** The sink's user may publish anywhere but under this table's topics: the broker's ACL refuses those (PUBACK 0x87). */
const REFUSED_TABLE = 'acl_refused';
const publisher: BrokerUser = { name: 'bridge', password: 'p@ss:w/rd', acl: [`topic deny pgbridge/public/${REFUSED_TABLE}/#`, 'topic readwrite #'] };
const reader: BrokerUser = { name: 'reader', password: 'reader-pw', acl: SUBSCRIBER_ACL };
const broker = new MosquittoBroker({ users: [publisher, reader] });

before(() => broker.start());
after(() => broker.dispose());

function toArrival(message: Received): Arrival {
  return { body: message.body, headers: { ...message.userProperties, 'content-type': message.contentType ?? '' } };
}

/** A QoS 2 subscriber to the scope's topics: rows under the default template, channel events on the channel's name. */
async function subscribe(t: TestContext, scope: Scope): Promise<() => Promise<Arrival[]>> {
  const subscriber = new MqttSubscriber({
    url: broker.url,
    username: reader.name,
    password: reader.password,
    filters: [`pgbridge/public/${scope.table}/+`, scope.channel],
    qos: 2,
  });
  await subscriber.start();
  t.after(() => subscriber.stop());
  return async () => (await subscriber.settled()).map(toArrival);
}

function createSink(t: TestContext, url: string, options: Readonly<Record<string, unknown>>): Sink {
  const sink = sinkFromConfig({ name: 'contract', type: 'mqtt', url, connect_timeout_ms: 2000, ...options }, silentContext(DATABASE));
  t.after(() => sink.close());
  return sink;
}

async function open(t: TestContext, scope: Scope, options: Readonly<Record<string, unknown>> = {}): Promise<FarEnd> {
  const arrived = await subscribe(t, scope);
  const sink = createSink(t, broker.urlFor(publisher), options);
  await sink.connect(new AbortController().signal);
  return { sink, arrived };
}

runSinkContract({
  type: 'mqtt',
  formats: [
    ...BODY_FORMATS,
    {
      label: 'cloudevents (binary, ce-* user properties)',
      format: 'cloudevents',
      cloudEvent: binaryCloudEvent('ce-'),
    },
  ],
  open,
  eventHeaders: 'carried',
  permanent: {
    doomed: () => rowEvent({ table: REFUSED_TABLE }),
  },
  retriable: {
    async openFailing(t, scope) {
      // A port nobody listens on yet; healing forwards it to the broker.
      const port = await freePort();
      const sink = createSink(t, broker.urlFor(publisher, port), { format: 'pgbridge' });
      const arrived = await subscribe(t, scope);
      return {
        sink,
        arrived,
        async heal() {
          const forwarder = await forward(port, `127.0.0.1:${broker.port}`);
          t.after(() => forwarder.close());
        },
      };
    },
  },
});
