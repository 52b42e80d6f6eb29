import { randomBytes } from 'node:crypto';
import { after, before, type TestContext } from 'node:test';
import { AMQP_URL, AmqpAdmin } from '../support/amqp.js';
import { rowEvent } from '../support/events.js';
import { silentContext, sinkFromConfig } from '../support/sink-config.js';
import { BODY_FORMATS, binaryCloudEvent, DATABASE, runSinkContract, type Arrival, type FarEnd, type Scope } from './sink-contract.js';

let admin: AmqpAdmin;

before(async () => {
  admin = await AmqpAdmin.connect();
});

after(() => admin.close());

/** Routing keys are the default {schema}.{table}.{op}; a channel event goes by its channel name. Read by basic.get: what the queue holds at this moment. */
async function reader(t: TestContext, exchange: string, scope: Scope): Promise<() => Promise<Arrival[]>> {
  const queue = await admin.polledQueue(exchange, [`public.${scope.table}.*`, scope.channel], t);
  return () => queue.read();
}

function createSink(t: TestContext, exchange: string, options: Readonly<Record<string, unknown>>) {
  const sink = sinkFromConfig({ name: 'contract', type: 'amqp', url: AMQP_URL, exchange, ...options }, silentContext(DATABASE));
  t.after(async () => {
    await sink.close();
    await admin.deleteExchange(exchange);
  });
  return sink;
}

async function open(t: TestContext, scope: Scope, options: Readonly<Record<string, unknown>> = {}): Promise<FarEnd> {
  const exchange = `pgbridge-contract-${randomBytes(4).toString('hex')}`;
  const sink = createSink(t, exchange, options);
  await sink.connect(new AbortController().signal); // declares the exchange
  return { sink, arrived: await reader(t, exchange, scope) };
}

runSinkContract({
  type: 'amqp',
  formats: [
    ...BODY_FORMATS,
    {
      label: 'cloudevents (cloudEvents:* application properties)',
      format: 'cloudevents',
      cloudEvent: binaryCloudEvent('cloudEvents:'),
    },
  ],
  open,
  permanent: {
    // No queue is bound for this table's routing key: published with `mandatory`, the broker returns it.
    doomed: (scope) => rowEvent({ table: `${scope.table}_unbound` }),
  },
  retriable: {
    async openFailing(t, scope) {
      // declare: false and no such exchange yet: the sink cannot get ready until it exists.
      const exchange = `pgbridge-contract-${randomBytes(4).toString('hex')}`;
      const sink = createSink(t, exchange, { format: 'pgbridge', declare: false });
      let arrived = async (): Promise<Arrival[]> => [];
      return {
        sink,
        arrived: () => arrived(),
        async heal() {
          await (await admin.channel(t)).assertExchange(exchange, 'topic', { durable: true });
          arrived = await reader(t, exchange, scope);
        },
      };
    },
  },
  eventHeaders: 'carried',
});
