/**
 * `npm run bench:sink -- [--rounds N] [--events N] [--only kafka,amqp]`
 *
 * One broker sink without Postgres: the same events through (a) the bare
 * client as bench/ceilings.ts drives it, (b) the sink's own send() with the
 * in-flight pattern the delivery runner uses (max_in_flight sends of
 * max_events), (c) the sink behind a real SinkRunner. All in this process,
 * alternating, each timed to the same consumer; CPU is this process's. What
 * (b) adds to (a) is the sink's own cost, what (c) adds to (b) the runner's;
 * what a drain adds to (c) is Postgres and startup.
 */
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { SinkRunner } from '../src/delivery/sink-runner.js';
import type { RowChangeEvent } from '../src/event.js';
import { Metrics } from '../src/metrics.js';
import type { Sink } from '../src/sinks/sink.js';
import { sinkFromConfig } from '../test/support/sink-config.js';
import { createTopic, kafkaBrokers } from '../test/support/kafka.js';
import { bareAmqp, bareKafka, type CeilingResult } from './ceilings.js';
import { Receiver } from './receivers.js';
import { monoMs } from './stats.js';
import { TABLES } from './workloads.js';

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    events: { type: 'string', default: '50000' },
    only: { type: 'string', default: 'kafka,amqp' },
  },
});
const ROUNDS = Number(args.rounds);
const N = Number(args.events);
const AMQP_URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const BATCH = 500;
const WAIT_MS = 120_000;
const silent = pino({ level: 'silent' });
const ctx = { logger: silent, format: { database: 'bench' } };

let nextId = 1_000_000;
const ids = (count: number): number => {
  const first = nextId;
  nextId += count;
  return first;
};

/** The bench's outbox row (workloads.ts eventBody) as the outbox reader makes it an event. */
function event(id: number): RowChangeEvent {
  const data = `{"id":${id},"account":${id % 1000},"status":"new","amount":${((id % 100000) / 100).toFixed(2)},"note":"bench row ${id} ${'x'.repeat(40)}","created_at":"2026-11-21T10:00:00.123456+00:00"}`;
  return {
    kind: 'row',
    id: String(id),
    schema: 'public',
    table: TABLES.outbox,
    op: 'INSERT',
    data,
    old: null,
    key: `{"id":${id}}`,
    txid: '123456',
    ts: '2026-11-21T10:00:00.123456+00:00',
  };
}

interface Run {
  readonly rate: number;
  readonly cpuPer10k: number;
}

const cpuSeconds = (): number => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
};

async function timed(receiver: Receiver, count: number, body: () => Promise<void>): Promise<Run> {
  await receiver.reset();
  const cpu0 = cpuSeconds();
  const started = monoMs();
  await body();
  const cpu = cpuSeconds() - cpu0;
  const got = await receiver.wait(count, WAIT_MS);
  if (got.count < count) throw new Error(`only ${got.count} of ${count} arrived`);
  return { rate: count / ((got.lastAt - started) / 1000), cpuPer10k: (cpu / count) * 10_000 };
}

const fromCeiling = (c: CeilingResult): Run => {
  if (c.received < c.events) throw new Error(`only ${c.received} of ${c.events} arrived`);
  return { rate: c.rate, cpuPer10k: ((c.cpuS ?? 0) / c.events) * 10_000 };
};

/** sink.send() directly: `lanes` loops, each sending the next `maxBatch` events and awaiting it. */
async function direct(sink: Sink, receiver: Receiver, count: number): Promise<Run> {
  const first = ids(count);
  const events = Array.from({ length: count }, (_, i) => event(first + i));
  const never = new AbortController().signal;
  await sink.connect(never);
  let next = 0;
  return timed(receiver, count, async () => {
    const lane = async (): Promise<void> => {
      while (next < events.length) {
        const batch = events.slice(next, next + sink.maxBatch);
        next += batch.length;
        await sink.send(batch, never);
      }
    };
    await Promise.all(Array.from({ length: sink.maxInFlight }, lane));
  });
}

/** The sink behind a SinkRunner, pushed pages of 500 as the outbox reader pushes them, as fast as it has room. */
async function runner(sink: Sink, receiver: Receiver, count: number): Promise<Run> {
  const first = ids(count);
  const events = Array.from({ length: count }, (_, i) => event(first + i));
  const r = new SinkRunner(sink, { retry: { initial_ms: 100, max_ms: 1000, max_attempts: 0 }, logger: silent, metrics: new Metrics('bench') });
  await sink.connect(new AbortController().signal);
  let settled = 0;
  let done!: () => void;
  const all = new Promise<void>((resolve) => (done = resolve));
  const envelope = (e: RowChangeEvent) => ({
    event: e,
    settle: () => {
      if (++settled === count) done();
    },
  });
  const run = await timed(receiver, count, async () => {
    for (let next = 0; next < events.length;) {
      await r.waitForRoom(Math.min(BATCH, Math.floor(r.capacity / 2)));
      const page = events.slice(next, next + Math.min(BATCH, r.room));
      next += page.length;
      for (const e of page) r.push(envelope(e));
    }
    await all;
  });
  await r.stop(5000, true);
  return run;
}

const fmt = (r: Run): string => `${Math.round(r.rate).toLocaleString('en-US')} ev/s, CPU ${r.cpuPer10k.toFixed(3)} s/10k`;

async function main(): Promise<void> {
  const only = args.only.split(',');
  const receivers: Receiver[] = [];
  try {
    if (only.includes('kafka')) {
      const brokers = await kafkaBrokers();
      const topic = `bench.sink.${process.pid}`;
      await createTopic(brokers, topic, 4);
      const receiver = await Receiver.start({ kind: 'kafka', brokers, topics: [topic] });
      receivers.push(receiver);
      const config = { name: 'out', type: 'kafka', brokers, topic };
      for (let round = 1; round <= ROUNDS; round++) {
        console.log(`kafka round ${round}: bare ${fmt(fromCeiling(await bareKafka(brokers, topic, receiver, ids(N), N, BATCH, 4)))}`);
        const s1 = sinkFromConfig(config, ctx);
        console.log(`kafka round ${round}: sink.send ${fmt(await direct(s1, receiver, N))}`);
        await s1.close();
        const s2 = sinkFromConfig(config, ctx);
        console.log(`kafka round ${round}: runner+sink ${fmt(await runner(s2, receiver, N))}`);
      }
    }
    if (only.includes('amqp')) {
      const exchange = `pgbridge_bench_sink_${process.pid}`;
      const receiver = await Receiver.start({ kind: 'amqp', url: AMQP_URL, exchange });
      receivers.push(receiver);
      const config = { name: 'out', type: 'amqp', url: AMQP_URL, exchange };
      for (let round = 1; round <= ROUNDS; round++) {
        console.log(`amqp round ${round}: bare ${fmt(fromCeiling(await bareAmqp(AMQP_URL, exchange, receiver, ids(N), N, BATCH * 4)))}`);
        const s1 = sinkFromConfig(config, ctx);
        console.log(`amqp round ${round}: sink.send ${fmt(await direct(s1, receiver, N))}`);
        await s1.close();
        const s2 = sinkFromConfig(config, ctx);
        console.log(`amqp round ${round}: runner+sink ${fmt(await runner(s2, receiver, N))}`);
      }
    }
  } finally {
    for (const r of receivers) await r.stop();
  }
  process.exit(0);
}

await main();
