import assert from 'node:assert/strict';
import { before, type TestContext } from 'node:test';
import { Kafka, type CloudEvent, type KafkaMessage } from 'cloudevents';
import type { Sink } from '../../src/sinks/sink.js';
import { rowEvent } from '../support/events.js';
import { createTopic, kafkaBrokers, readTopic } from '../support/kafka.js';
import { silentContext, sinkFromConfig } from '../support/sink-config.js';
import { forward, freePort } from '../support/tcp.js';
import { BODY_FORMATS, binaryCloudEvent, DATABASE, runSinkContract, type Arrival, type FarEnd, type Scope } from './sink-contract.js';

let brokers: string[];

before(async () => {
  brokers = await kafkaBrokers();
});

function createSink(t: TestContext, bootstrap: string[], options: Readonly<Record<string, unknown>>): Sink {
  const sink = sinkFromConfig({ name: 'contract', type: 'kafka', brokers: bootstrap, ...options }, silentContext(DATABASE));
  t.after(() => sink.close());
  return sink;
}

/**
 * Under the default topic template rows go to "public.<table>" and channel
 * events to the topic named after the channel; both are created up front, so
 * reading one that got nothing yet is not an error. Sorted by partition and offset.
 */
async function reader(scope: Scope): Promise<() => Promise<Arrival[]>> {
  const topics = [`public.${scope.table}`, scope.channel];
  for (const topic of topics) await createTopic(brokers, topic, 4);
  return async () => {
    const messages = (await Promise.all(topics.map((topic) => readTopic(brokers, topic)))).flat();
    return messages.map((m) => ({ body: m.value ?? '', headers: m.headers }));
  };
}

async function open(t: TestContext, scope: Scope, options: Readonly<Record<string, unknown>> = {}): Promise<FarEnd> {
  const arrived = await reader(scope);
  const sink = createSink(t, brokers, options);
  await sink.connect(new AbortController().signal);
  return { sink, arrived };
}

runSinkContract({
  type: 'kafka',
  formats: [
    ...BODY_FORMATS,
    {
      label: 'cloudevents (binary, ce_* headers)',
      format: 'cloudevents',
      cloudEvent: (arrival) => {
        const message: KafkaMessage<string> = { key: '', value: arrival.body, body: arrival.body, headers: arrival.headers };
        const event = Kafka.toEvent(message) as CloudEvent<unknown>;
        assert.equal(event.validate(), true, 'the CloudEvents SDK reads and validates it');
        return binaryCloudEvent('ce_')(arrival);
      },
    },
  ],
  open,
  permanent: {
    // Its topic, "public.<table> refused!", is no legal Kafka topic name.
    doomed: (scope) => rowEvent({ table: `${scope.table} refused!` }),
  },
  retriable: {
    async openFailing(t, scope) {
      // Bootstrap through a port nobody listens on yet; healing forwards it to a live broker.
      const port = await freePort();
      const sink = createSink(t, [`127.0.0.1:${port}`], { format: 'pgbridge' });
      const arrived = await reader(scope);
      return {
        sink,
        arrived,
        async heal() {
          const forwarder = await forward(port, brokers[0]);
          t.after(() => forwarder.close());
        },
      };
    },
  },
  eventHeaders: 'carried',
});
