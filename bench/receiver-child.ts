/**
 * The far end, in a process of its own (forked by receivers.ts): a webhook
 * server, a bare LISTEN client, an AMQP, Kafka or JetStream consumer, an MQTT subscriber, or a
 * bare replication consumer that only decodes pgoutput (the wal mode's ceiling). It
 * stamps each event with CLOCK_MONOTONIC (comparable with the bench process's
 * commit stamps) and keys it by the row id found in the event's data, so the
 * bench process's event loop — busy inserting — never delays a receive stamp.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect as natsConnect } from '@nats-io/transport-node';
import { createClient } from '@redis/client';
import amqp from 'amqplib';
import { Kafka, logLevel } from 'kafkajs';
import mqtt from 'mqtt';
import pg from 'pg';
import { decodePgOutput } from '../src/source/wal/pgoutput.js';
import { ReplicationStream } from '../src/source/wal/replication-stream.js';
import { monoMs } from './stats.js';
import { ArrivalTimes } from './arrival-times.js';

export type ReceiverSpec =
  | { kind: 'http'; port?: number }
  | { kind: 'listen'; url: string; channel: string }
  | { kind: 'amqp'; url: string; exchange: string }
  | { kind: 'kafka'; brokers: string[]; topics: string[] }
  | { kind: 'nats'; servers: string; stream: string; subjects: string[] }
  | { kind: 'mqtt'; url: string; filter: string }
  | { kind: 'redis'; url: string; streams: string[] }
  /** Streams from `slot` only between `up` and `down` (a walsender decoding all the while would load every other scenario). */
  | { kind: 'replication'; url: string; slot: string; publication: string };

export type Request =
  | { op: 'start'; spec: ReceiverSpec }
  | { op: 'reset' }
  | { op: 'wait'; count: number; timeoutMs: number }
  | { op: 'collect'; ids?: { readonly first: number; readonly count: number } }
  | { op: 'down' }
  | { op: 'up' }
  | { op: 'idle' }
  | { op: 'stop' };

export interface Progress {
  /** Distinct row ids received. */
  readonly count: number;
  /** Events received again (same row id). */
  readonly duplicates: number;
  /** Requests / notifications / messages carrying them. */
  readonly deliveries: number;
  readonly firstAt: number;
  readonly lastAt: number;
}

const firstSeen = new ArrivalTimes();
let duplicates = 0;
let deliveries = 0;
let firstAt = Number.NaN;
let lastAt = Number.NaN;
let waiter: { count: number; resolve: () => void } | undefined;
let stopHandlers: Array<() => Promise<void>> = [];
const resetHandlers: Array<() => Promise<void>> = [];
let server: http.Server | undefined;
let serverPort = 0;
/** What `down` and `up` do: the webhook server closed / listening again, or the replication stream ended / started. */
let goDown: () => Promise<void> = stopHttp;
let goUp: () => Promise<void> = () => startHttp(serverPort).then(() => undefined);
/**
 * What `idle` does between the scenarios that read this far end, and `reset` undoes: a consumer that
 * costs CPU while nothing is sent to it stops. Kafka's fetch loop polls every 20 ms (12.5% of a core
 * here), and a LISTEN hears every wake-up of the outbox triggers (1,000 a second in a steady run):
 * both took a core's share from every other scenario on these two cores.
 */
let goIdle: (() => Promise<void>) | undefined;
let goActive: () => Promise<void> = async () => {};

function note(rowId: number, at: number): void {
  if (!Number.isSafeInteger(rowId) || rowId < 0) return; // not a bench row
  if (!firstSeen.add(rowId, at)) {
    duplicates++;
    return;
  }
  if (Number.isNaN(firstAt)) firstAt = at;
  lastAt = at;
  if (waiter && firstSeen.size >= waiter.count) {
    const w = waiter;
    waiter = undefined;
    w.resolve();
  }
}

/** A pgbridge-format event, or an array of them (batched webhook). */
function noteJson(text: string, at: number): void {
  deliveries++;
  const parsed = JSON.parse(text) as unknown;
  const events = Array.isArray(parsed) ? parsed : [parsed];
  for (const event of events as Array<{ data?: { id?: number } }>) {
    const id = event.data?.id;
    if (typeof id === 'number') note(id, at);
  }
}

function progress(): Progress {
  return { count: firstSeen.size, duplicates, deliveries, firstAt, lastAt };
}

function startHttp(port: number): Promise<number> {
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const at = monoMs();
      if (req.method === 'POST') {
        try {
          noteJson(Buffer.concat(chunks).toString('utf8'), at);
        } catch {
          res.writeHead(400).end();
          return;
        }
        res.writeHead(204).end();
      } else {
        res.writeHead(200).end(); // the sink's HEAD reachability probe
      }
    });
  });
  server.keepAliveTimeout = 60_000;
  return new Promise((resolve, reject) => {
    server!.once('error', reject);
    server!.listen(port, '127.0.0.1', () => resolve((server!.address() as AddressInfo).port));
  });
}

async function stopHttp(): Promise<void> {
  const s = server;
  server = undefined;
  if (!s) return;
  s.closeAllConnections();
  await new Promise<void>((resolve) => s.close(() => resolve()));
}

/**
 * A bare pgoutput consumer: decodes every message (as the bridge does before
 * anything else) and notes each inserted row by its first column, the id; it
 * confirms what it received, so the slot never holds WAL back meanwhile.
 */
function replicationConsumer(spec: Extract<ReceiverSpec, { kind: 'replication' }>): void {
  let stream: ReplicationStream | undefined;
  let confirmed = 0n;
  goUp = async () => {
    const s = new ReplicationStream(
      { connectionString: spec.url, application_name: 'bench replication' },
      {
        onData: (_walStart, body) => {
          const msg = decodePgOutput(body);
          if (msg.tag === 'insert') {
            deliveries++;
            note(Number(msg.values[0]), monoMs());
          } else if (msg.tag === 'commit') {
            confirmed = msg.endLsn;
          }
        },
        onKeepalive: (walEnd, reply) => {
          if (reply) s.sendStatus(walEnd, confirmed);
        },
      },
    );
    stream = s;
    const { ended } = await s.start(spec.slot, spec.publication);
    ended.catch(() => {});
  };
  goDown = async () => {
    stream?.sendStatus(confirmed, confirmed);
    await stream?.close();
    stream = undefined;
  };
  stopHandlers.push(() => goDown());
}

async function start(spec: ReceiverSpec): Promise<Record<string, unknown>> {
  switch (spec.kind) {
    case 'http': {
      serverPort = await startHttp(spec.port ?? 0);
      stopHandlers.push(stopHttp);
      return { url: `http://127.0.0.1:${serverPort}/hook` };
    }
    case 'listen': {
      const client = new pg.Client({ connectionString: spec.url, application_name: 'bench listen' });
      client.on('error', () => {});
      await client.connect();
      // A notify-mode payload: header \u0001 key \u0001 data \u0001 old; the row id is in the key.
      client.on('notification', (n) => {
        const at = monoMs();
        deliveries++;
        const payload = n.payload ?? '';
        const key = payload.split('\u0001')[1];
        if (key) note((JSON.parse(key) as { id: number }).id, at);
      });
      goActive = async () => void (await client.query(`LISTEN ${spec.channel}`));
      goIdle = async () => void (await client.query(`UNLISTEN ${spec.channel}`));
      stopHandlers.push(() => client.end());
      return {};
    }
    case 'amqp': {
      const connection = await amqp.connect(spec.url);
      const channel = await connection.createChannel();
      await channel.assertExchange(spec.exchange, 'topic', { durable: true });
      const { queue } = await channel.assertQueue('', { exclusive: true, autoDelete: true });
      await channel.bindQueue(queue, spec.exchange, '#');
      await channel.consume(
        queue,
        (message) => {
          if (message) noteJson(message.content.toString('utf8'), monoMs());
        },
        { noAck: true },
      );
      stopHandlers.push(async () => {
        await channel.deleteExchange(spec.exchange).catch(() => {});
        await connection.close().catch(() => {});
      });
      return {};
    }
    case 'kafka': {
      const kafka = new Kafka({ clientId: 'pgbridge-bench', brokers: spec.brokers, logLevel: logLevel.NOTHING });
      const consumer = kafka.consumer({ groupId: `bench-${process.pid}-${Date.now()}`, maxWaitTimeInMs: 20, heartbeatInterval: 500 });
      await consumer.connect();
      await consumer.subscribe({ topics: spec.topics, fromBeginning: true });
      const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
      await consumer.run({
        eachBatch: async ({ batch }) => {
          const at = monoMs();
          for (const message of batch.messages) {
            if (message.value) noteJson(message.value.toString('utf8'), at);
          }
        },
      });
      await joined;
      // Paused, kafkajs sleeps out its wait instead of fetching. It wakes at the end of each topic:
      // what an earlier scenario left unread (one that timed out, late duplicates) stays unread,
      // where a consumer running all along would have taken it in before the next reset.
      const admin = kafka.admin();
      await admin.connect();
      const topics = spec.topics.map((topic) => ({ topic }));
      goIdle = async () => consumer.pause(topics);
      goActive = async () => {
        for (const topic of spec.topics) {
          for (const { partition, high } of await admin.fetchTopicOffsets(topic)) consumer.seek({ topic, partition, offset: high });
        }
        consumer.resume(topics);
      };
      await goIdle();
      stopHandlers.push(async () => {
        await admin.disconnect();
        await consumer.disconnect();
      });
      return {};
    }
    case 'nats': {
      // The stream is made here, fresh per run: event ids repeat across bench databases, and JetStream would drop them as duplicates.
      const connection = await natsConnect({ servers: spec.servers, name: 'pgbridge bench receiver' });
      const jsm = await jetstreamManager(connection);
      await jsm.streams.delete(spec.stream).catch(() => false);
      await jsm.streams.add({ name: spec.stream, subjects: spec.subjects });
      const consumer = await jetstream(connection).consumers.get(spec.stream);
      const messages = await consumer.consume();
      void (async () => {
        for await (const message of messages) noteJson(message.string(), monoMs());
      })();
      stopHandlers.push(async () => {
        await messages.close();
        await jsm.streams.delete(spec.stream).catch(() => false);
        await connection.close();
      });
      return {};
    }
    case 'mqtt': {
      const client = await mqtt.connectAsync(spec.url, { protocolVersion: 5, clean: true, reconnectPeriod: 0 });
      client.on('message', (_topic, payload) => noteJson(payload.toString('utf8'), monoMs()));
      await client.subscribeAsync(spec.filter, { qos: 1 });
      stopHandlers.push(() => client.endAsync());
      return {};
    }
    case 'redis': {
      // An XREAD BLOCK consumer of the streams; reset deletes them, so memory stays bounded across runs.
      const client = createClient({ url: spec.url });
      client.on('error', () => {});
      await client.connect();
      const reader = client.duplicate();
      reader.on('error', () => {});
      await reader.connect();
      const last = new Map(spec.streams.map((key) => [key, '0-0']));
      let reading = true;
      const loop = (async () => {
        while (reading) {
          type StreamReply = Array<{ name: string; messages: Array<{ id: string; message: Record<string, string> }> }>;
          const read: Promise<unknown> = reader.xRead(
            [...last].map(([key, id]) => ({ key, id })),
            { BLOCK: 100, COUNT: 5000 },
          );
          const replies = (await read.catch(() => null)) as StreamReply | null;
          const at = monoMs();
          for (const { name, messages } of replies ?? []) {
            for (const { id, message } of messages) {
              noteJson(message.event, at);
              last.set(name, id);
            }
          }
        }
      })();
      resetHandlers.push(() => client.del(spec.streams).then(() => undefined));
      stopHandlers.push(async () => {
        reading = false;
        await loop;
        await client.del(spec.streams);
        await Promise.all([reader.close(), client.close()]);
      });
      return {};
    }
    case 'replication':
      replicationConsumer(spec);
      return {};
  }
}

async function handle(request: Request): Promise<unknown> {
  switch (request.op) {
    case 'start':
      // `idles` tells the bench which far ends an `idle` is worth sending to.
      return { ...(await start(request.spec)), idles: goIdle !== undefined };
    case 'reset':
      await Promise.all(resetHandlers.map((h) => h()));
      firstSeen.clear();
      duplicates = 0;
      deliveries = 0;
      firstAt = Number.NaN;
      lastAt = Number.NaN;
      await goActive();
      return {};
    case 'wait': {
      if (firstSeen.size < request.count) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(() => {
            waiter = undefined;
            resolve();
          }, request.timeoutMs);
          waiter = {
            count: request.count,
            resolve: () => {
              clearTimeout(timer);
              resolve();
            },
          };
        });
      }
      return progress();
    }
    case 'collect': {
      // A range (the soak's minute): only its rows. Every row seen so far, copied and sent each minute,
      // stalled this far end longer every minute (3.6 million rows by the soak's end).
      if (request.ids) {
        const { first, count } = request.ids;
        const ids = new Float64Array(count);
        const times = new Float64Array(count);
        let n = 0;
        for (let id = first; id < first + count; id++) {
          const at = firstSeen.get(id);
          if (at === undefined) continue;
          ids[n] = id;
          times[n++] = at;
        }
        return { ...progress(), ids: ids.slice(0, n), times: times.slice(0, n) };
      }
      return { ...progress(), ...firstSeen.entries() };
    }
    case 'down':
      await goDown();
      return {};
    case 'up':
      await goUp();
      return {};
    case 'idle':
      await goIdle?.();
      return {};
    case 'stop': {
      const handlers = stopHandlers;
      stopHandlers = [];
      await Promise.all(handlers.map((h) => h().catch(() => {})));
      return {};
    }
  }
}

process.on('message', (message: { seq: number; request: Request }) => {
  handle(message.request).then(
    (result) => process.send!({ seq: message.seq, ok: true, result }),
    (err: unknown) => process.send!({ seq: message.seq, ok: false, error: err instanceof Error ? err.message : String(err) }),
  );
});
process.on('disconnect', () => process.exit(0));
