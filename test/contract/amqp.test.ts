import { randomBytes } from 'node:crypto';
import { after, before, type TestContext } from 'node:test';
import amqp, { type Channel, type ChannelModel, type GetMessage } from 'amqplib';
import { rowEvent } from '../support/events.js';
import { silentContext, sinkFromConfig } from '../support/sink-config.js';
import { BODY_FORMATS, binaryCloudEvent, DATABASE, runSinkContract, type Arrival, type FarEnd, type Scope } from './sink-contract.js';

const BROKER = process.env.PGBRIDGE_TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
let admin: ChannelModel;
let channel: Channel;

before(async () => {
  admin = await amqp.connect(BROKER);
  channel = await admin.createChannel();
});

after(() => admin.close());

/** Routing keys are the default {schema}.{table}.{op}; a channel event goes by its channel name. */
async function bindQueue(t: TestContext, exchange: string, scope: Scope): Promise<string> {
  const { queue } = await channel.assertQueue(`pgbridge-contract-${scope.table}`, { durable: false });
  t.after(() => channel.deleteQueue(queue));
  await channel.bindQueue(queue, exchange, `public.${scope.table}.*`);
  await channel.bindQueue(queue, exchange, scope.channel);
  return queue;
}

function toArrival(message: GetMessage): Arrival {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(message.properties.headers ?? {})) headers[name] = String(value);
  headers['content-type'] = String(message.properties.contentType);
  headers['message-id'] = String(message.properties.messageId);
  return { body: message.content.toString('utf8'), headers };
}

/** basic.get until empty: what the queue holds at this moment, not what a consumer may get later. */
function reader(queue: string): () => Promise<Arrival[]> {
  const got: Arrival[] = [];
  return async () => {
    for (let message = await channel.get(queue, { noAck: true }); message !== false; message = await channel.get(queue, { noAck: true })) {
      got.push(toArrival(message));
    }
    return [...got];
  };
}

function createSink(t: TestContext, exchange: string, options: Readonly<Record<string, unknown>>) {
  const sink = sinkFromConfig({ name: 'contract', type: 'amqp', url: BROKER, exchange, ...options }, silentContext(DATABASE));
  t.after(async () => {
    await sink.close();
    await channel.deleteExchange(exchange);
  });
  return sink;
}

async function open(t: TestContext, scope: Scope, options: Readonly<Record<string, unknown>> = {}): Promise<FarEnd> {
  const exchange = `pgbridge-contract-${randomBytes(4).toString('hex')}`;
  const sink = createSink(t, exchange, options);
  await sink.connect(new AbortController().signal); // declares the exchange
  return { sink, arrived: reader(await bindQueue(t, exchange, scope)) };
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
          await channel.assertExchange(exchange, 'topic', { durable: true });
          arrived = reader(await bindQueue(t, exchange, scope));
        },
      };
    },
  },
});
