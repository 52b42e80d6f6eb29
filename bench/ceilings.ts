/**
 * Ceilings: what the same events cost without pgbridge in the way. Each bare
 * client does what the matching sink does (same bodies, same concurrency or
 * in-flight window, same confirmations) and is timed to the same receiver.
 */
import amqp from 'amqplib';
import { Kafka, logLevel, type Message } from 'kafkajs';
import { Agent, request } from 'undici';
import { publishConfirmed } from './bare/amqp-publish.js';
import type { Receiver } from './receivers.js';
import { monoMs } from './stats.js';
import { eventBody, insertBurst, rowsPerSecond, steadyLoad, TABLES, type BenchDatabase, type Written } from './workloads.js';

export interface CeilingResult {
  readonly events: number;
  readonly received: number;
  readonly seconds: number;
  readonly rate: number;
  /** Commit → receiver, for the bare LISTEN ceiling. */
  readonly written?: Written;
  /** Bare LISTEN: how long the inserts took. */
  readonly insertS?: number;
  /** CPU seconds of the bare client (this process) over the run, where it is the bench process. */
  readonly cpuS?: number;
  /** Backlog drains: first to last event at the receiver (the rate without connecting). */
  readonly rateAfterFirst?: number;
}

/** This process's CPU seconds: the bare clients run here, nothing else does meanwhile. */
function cpuSeconds(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

const WAIT_MS = 120_000;

/** `count` events at the receiver, timed from `started` (monotonic ms) to the last arrival. */
export async function timedToReceiver(receiver: Receiver, count: number, started: number): Promise<CeilingResult> {
  const got = await receiver.wait(count, WAIT_MS);
  const end = got.count >= count ? got.lastAt : monoMs();
  const seconds = (end - started) / 1000;
  return { events: count, received: got.count, seconds, rate: got.count / seconds };
}

/** Insert rate of `table` alone: `count` rows in `txnRows`-row transactions on one connection. */
export async function insertRate(db: BenchDatabase, table: string, count: number, txnRows: number): Promise<number> {
  await db.clean();
  await db.query('CHECKPOINT');
  const written = await insertBurst(db, table, count, txnRows);
  await db.clean();
  return rowsPerSecond(written);
}

/** A bare pg client LISTENing on channel pgbridge while the notify-mode trigger fires: insert start → last notification. */
export async function bareListen(db: BenchDatabase, receiver: Receiver, count: number, txnRows: number): Promise<CeilingResult> {
  await receiver.reset();
  const written = await insertBurst(db, TABLES.notify, count, txnRows);
  const result = await timedToReceiver(receiver, count, written.startedAt);
  await db.clean();
  return { ...result, written, insertS: (written.endedAt - written.startedAt) / 1000 };
}

/** The same bare LISTEN client under an open-loop steady rate: the latency floor of Postgres and this machine. */
export async function bareListenSteady(
  db: BenchDatabase,
  receiver: Receiver,
  rate: number,
  txnRows: number,
  seconds: number,
): Promise<CeilingResult> {
  await receiver.reset();
  const written = await steadyLoad(db, TABLES.notify, rate, txnRows, seconds);
  const result = await timedToReceiver(receiver, written.count, written.startedAt);
  await db.clean();
  return { ...result, written };
}

/**
 * undici posting with `concurrency` connections and requests in flight, as
 * the webhook sink does: one event per POST, or a JSON array of `perRequest`.
 */
export async function bareUndici(receiver: Receiver, firstId: number, count: number, concurrency: number, perRequest = 1): Promise<CeilingResult> {
  await receiver.reset();
  const bodies: string[] = [];
  for (let i = 0; i < count; i += perRequest) {
    const events = Array.from({ length: Math.min(perRequest, count - i) }, (_, j) => eventBody(TABLES.outbox, firstId + i + j));
    bodies.push(perRequest === 1 ? events[0] : `[${events.join(',')}]`);
  }
  const agent = new Agent({ connections: concurrency, keepAliveTimeout: 30_000 });
  let next = 0;
  const cpu0 = cpuSeconds();
  const started = monoMs();
  const worker = async (): Promise<void> => {
    while (next < bodies.length) {
      const body = bodies[next++];
      const res = await request(receiver.url, {
        method: 'POST',
        dispatcher: agent,
        body,
        headers: { 'content-type': 'application/json', 'user-agent': 'bench' },
      });
      await res.body.dump();
      if (res.statusCode >= 300) throw new Error(`receiver answered ${res.statusCode}`);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const cpuS = cpuSeconds() - cpu0;
  const result = await timedToReceiver(receiver, count, started);
  await agent.close();
  return { ...result, cpuS };
}

/**
 * amqplib on a confirm channel: persistent, mandatory messages with the
 * pgbridge headers, at most `window` unconfirmed (the sink's max_batch × max_in_flight).
 */
export async function bareAmqp(
  url: string,
  exchange: string,
  receiver: Receiver,
  firstId: number,
  count: number,
  window: number,
): Promise<CeilingResult> {
  await receiver.reset();
  const connection = await amqp.connect(url);
  const channel = await connection.createConfirmChannel();
  await channel.assertExchange(exchange, 'topic', { durable: true });
  const contents = Array.from({ length: count }, (_, i) => Buffer.from(eventBody(TABLES.outbox, firstId + i)));
  const cpu0 = cpuSeconds();
  const started = monoMs();
  const failed = await publishConfirmed(channel, exchange, TABLES.outbox, firstId, count, window, (i) => contents[i]);
  const cpuS = cpuSeconds() - cpu0;
  const result = await timedToReceiver(receiver, count, started);
  await connection.close();
  if (failed > 0) throw new Error(`bare amqp: ${failed} nacks`);
  return { ...result, cpuS };
}

/** kafkajs producer, acks all, batches of `batch` keyed messages with up to `inFlight` sends at once. */
export async function bareKafka(
  brokers: string[],
  topic: string,
  receiver: Receiver,
  firstId: number,
  count: number,
  batch: number,
  inFlight: number,
): Promise<CeilingResult> {
  await receiver.reset();
  const kafka = new Kafka({ clientId: 'pgbridge-bench', brokers, logLevel: logLevel.NOTHING });
  const producer = kafka.producer({ idempotent: false, allowAutoTopicCreation: true });
  await producer.connect();
  const messages: Message[] = Array.from({ length: count }, (_, i) => {
    const id = firstId + i;
    return {
      key: `{"id":${id}}`,
      value: eventBody(TABLES.outbox, id),
      headers: { 'pgbridge-id': String(id), 'pgbridge-op': 'INSERT', 'pgbridge-table': `public.${TABLES.outbox}` },
    };
  });
  // One message first: topic metadata and connections outside the timed window, as a connected sink has them.
  await producer.send({ topic, acks: -1, messages: [messages[0]] });
  let next = 1;
  const cpu0 = cpuSeconds();
  const started = monoMs();
  const worker = async (): Promise<void> => {
    while (next < count) {
      const slice = messages.slice(next, next + batch);
      next += slice.length;
      await producer.send({ topic, acks: -1, messages: slice });
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  const cpuS = cpuSeconds() - cpu0;
  const result = await timedToReceiver(receiver, count, started);
  await producer.disconnect();
  return { ...result, cpuS };
}
