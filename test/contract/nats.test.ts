import { randomBytes } from 'node:crypto';
import { after, before, type TestContext } from 'node:test';
import { rowEvent } from '../support/events.js';
import { NATS_URL, NatsAdmin } from '../support/nats.js';
import { silentContext, sinkFromConfig } from '../support/sink-config.js';
import { BODY_FORMATS, binaryCloudEvent, DATABASE, runSinkContract, type Arrival, type FarEnd, type Scope } from './sink-contract.js';

let admin: NatsAdmin;

before(async () => {
  admin = await NatsAdmin.connect();
});

after(() => admin.close());

/** A stream and subjects of this case alone: rows on <prefix>.public.<table>.<op>, channel events on <prefix>.channel.<channel>. */
function names(): { stream: string; subject: string; channel_subject: string } {
  const tag = randomBytes(4).toString('hex');
  return { stream: `contract_${tag}`, subject: `ct_${tag}.{schema}.{table}.{op}`, channel_subject: `ct_${tag}.channel.{channel}` };
}

/** What a JetStream consumer reads from the stream now, in stream order. */
function reader(stream: string): () => Promise<Arrival[]> {
  return async () => (await admin.read(stream)).map((m) => ({ body: m.data, headers: m.headers }));
}

function createSink(t: TestContext, keys: ReturnType<typeof names>, options: Readonly<Record<string, unknown>>) {
  const sink = sinkFromConfig({ name: 'contract', type: 'nats', url: NATS_URL, ...keys, timeout_ms: 5000, ...options }, silentContext(DATABASE));
  t.after(async () => {
    await sink.close();
    await admin.deleteStream(keys.stream);
  });
  return sink;
}

async function open(t: TestContext, _scope: Scope, options: Readonly<Record<string, unknown>> = {}): Promise<FarEnd> {
  const keys = names();
  const sink = createSink(t, keys, { declare: true, ...options });
  await sink.connect(new AbortController().signal); // declares the stream
  return { sink, arrived: reader(keys.stream) };
}

runSinkContract({
  type: 'nats',
  formats: [
    ...BODY_FORMATS,
    {
      label: 'cloudevents (binary, ce-* headers)',
      format: 'cloudevents',
      cloudEvent: binaryCloudEvent('ce-'),
    },
  ],
  // Nats-Msg-Id = event id: inside the duplicate window JetStream stores a redelivered event once.
  deduplicates: true,
  eventHeaders: 'carried',
  open,
  permanent: {
    // Over the server's max_payload (1 MB by default): refused for this event alone.
    doomed: (scope) => rowEvent({ table: scope.table, data: JSON.stringify({ id: 1, blob: 'x'.repeat(1_100_000) }) }),
  },
  retriable: {
    async openFailing(t) {
      // declare: false and no such stream yet: the sink cannot get ready until it exists.
      const keys = names();
      const sink = createSink(t, keys, { format: 'pgbridge', declare: false });
      return {
        sink,
        arrived: async () => ((await admin.streamExists(keys.stream)) ? reader(keys.stream)() : []),
        async heal() {
          await admin.createStream(keys.stream, [
            keys.subject.replace('{schema}.{table}.{op}', '*.*.*'),
            keys.channel_subject.replace('{channel}', '*'),
          ]);
        },
      };
    },
  },
});
