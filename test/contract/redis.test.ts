import { after, before, type TestContext } from 'node:test';
import type { RedisClientType } from '@redis/client';
import type { Sink } from '../../src/sinks/sink.js';
import { rowEvent } from '../support/events.js';
import { readStream, REDIS_URL, redisAdmin } from '../support/redis.js';
import { silentContext, sinkFromConfig } from '../support/sink-config.js';
import { forward, freePort } from '../support/tcp.js';
import { BODY_FORMATS, DATABASE, runSinkContract, structuredCloudEvent, type Arrival, type FarEnd, type Scope } from './sink-contract.js';

let admin: RedisClientType;

before(async () => {
  admin = await redisAdmin();
});

after(() => admin.close());

/** Under the default template rows go to "pgbridge:public.<table>" and channel events to the stream named after the channel. */
function streamsOf(scope: Scope): string[] {
  return [`pgbridge:public.${scope.table}`, scope.channel];
}

/** The key the doomed event of a scope would append to: it holds a string, so XADD answers WRONGTYPE. */
const wrongTypeKey = (scope: Scope): string => `pgbridge:public.${scope.table}_string`;

/**
 * XRANGE over the scope's streams: the `event` field as the body, the other
 * fields (id, op, table or channel: the event headers' content) as headers named pgbridge-<field>.
 */
function reader(t: TestContext, scope: Scope): () => Promise<Arrival[]> {
  const keys = [...streamsOf(scope), wrongTypeKey(scope)];
  t.after(() => admin.del(keys));
  return async () => {
    const entries = (await Promise.all(streamsOf(scope).map((stream) => readStream(admin, stream)))).flat();
    return entries.map(({ fields: { event, ...others } }) => ({
      body: event,
      headers: Object.fromEntries(Object.entries(others).map(([name, value]) => [`pgbridge-${name}`, value])),
    }));
  };
}

function createSink(t: TestContext, url: string, options: Readonly<Record<string, unknown>>): Sink {
  const sink = sinkFromConfig({ name: 'contract', type: 'redis', url, ...options }, silentContext(DATABASE));
  t.after(() => sink.close());
  return sink;
}

async function open(t: TestContext, scope: Scope, options: Readonly<Record<string, unknown>> = {}): Promise<FarEnd> {
  const arrived = reader(t, scope);
  await admin.set(wrongTypeKey(scope), 'not a stream');
  const sink = createSink(t, REDIS_URL, options);
  await sink.connect(new AbortController().signal);
  return { sink, arrived };
}

runSinkContract({
  type: 'redis',
  formats: [
    ...BODY_FORMATS,
    { label: 'cloudevents (structured, in the event field)', format: 'cloudevents', cloudEvent: ({ body }) => structuredCloudEvent(body) },
  ],
  open,
  permanent: {
    // Its stream key holds a string (set by open): WRONGTYPE, while the batch's other XADDs go through.
    doomed: (scope) => rowEvent({ table: `${scope.table}_string` }),
  },
  eventHeaders: 'carried',
  retriable: {
    async openFailing(t, scope) {
      // A port nobody listens on yet; healing forwards it to the real server.
      const port = await freePort();
      const sink = createSink(t, `redis://127.0.0.1:${port}`, { format: 'pgbridge', connect_timeout_ms: 2000 });
      const arrived = reader(t, scope);
      return {
        sink,
        arrived,
        async heal() {
          const target = new URL(REDIS_URL);
          const forwarder = await forward(port, `${target.hostname}:${target.port || 6379}`);
          t.after(() => forwarder.close());
        },
      };
    },
  },
});
