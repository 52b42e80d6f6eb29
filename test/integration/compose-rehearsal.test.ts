/**
 * `docker compose up` without Docker: the bridge runs with config/compose.yaml
 * as written and the environment docker-compose.yml gives it; its service
 * names resolve to the local services for that process only (a preload,
 * test/support/compose-hosts.mjs); the example webhook consumer runs as its
 * compose service runs it; a kcat mock cluster stands in for `kafka`. Then an
 * order inserted as the compose file says arrives where its comments promise:
 * verified at the consumer, on the RabbitMQ exchange, in the Kafka topic.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import pg from 'pg';
import YAML from 'yaml';
import { AMQP_URL, AmqpAdmin, type RecordingQueue } from '../support/amqp.js';
import { cli, ROOT, RunningBridge, waitFor } from '../support/bridge.js';
import { readTopic, startMockCluster, type MockCluster } from '../support/kafka.js';
import { MqttSubscriber } from '../support/mqtt.js';
import { NatsAdmin } from '../support/nats.js';
import { redisAdmin } from '../support/redis.js';
import { PG_ADMIN_URL } from '../support/pg.js';
import { freePort } from '../support/tcp.js';
import amqp from 'amqplib';

interface Service {
  command?: string[];
  entrypoint?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  working_dir?: string;
  healthcheck?: { test: string[]; interval: string; retries: number };
}

const compose = YAML.parse(readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8')) as { services: Record<string, Service> };
/** What config/compose.yaml makes on the shared local servers: a JetStream stream and Redis streams, removed afterwards. */
const composeSinks = (YAML.parse(readFileSync(path.join(ROOT, 'config', 'compose.yaml'), 'utf8')) as { sinks: Array<Record<string, unknown>> }).sinks;
const DATABASE = 'shop';
const PRELOAD = path.join(ROOT, 'test', 'support', 'compose-hosts.mjs');

/** ${NAME:-default} as Compose resolves it (from this environment, else the default). */
function resolve(value: string): string {
  return value.replace(/\$\{([A-Z0-9_]+)(?::-([^}]*))?\}/g, (_, name: string, fallback?: string) => process.env[name] ?? fallback ?? '');
}

function environment(service: Service): Record<string, string> {
  return Object.fromEntries(Object.entries(service.environment ?? {}).map(([k, v]) => [k, resolve(String(v))]));
}

/** The host side of the volume mounted at `target` in the container. */
function hostPath(service: Service, target: string): string {
  const volume = (service.volumes ?? []).find((v) => v.split(':')[1] === target);
  assert.ok(volume, `no volume mounted at ${target}`);
  return path.join(ROOT, volume.split(':')[0]);
}

let cluster: MockCluster;
let consumer: ChildProcess;
let bridge: RunningBridge;
let rabbit: AmqpAdmin;
let queue: RecordingQueue;
let adminDb: pg.Client;
let shop: pg.Client;
const consumerLines: string[] = [];
const bridgeEnv: NodeJS.ProcessEnv = {};

before(async () => {
  cluster = await startMockCluster();
  adminDb = new pg.Client(PG_ADMIN_URL);
  await adminDb.connect();
  await adminDb.query(`DROP DATABASE IF EXISTS ${DATABASE} WITH (FORCE)`);
  await adminDb.query(`CREATE DATABASE ${DATABASE}`);
  shop = new pg.Client(PG_ADMIN_URL.replace(/\/[^/?]*(\?|$)/, `/${DATABASE}$1`));
  await shop.connect();
  // What the postgres image runs from /docker-entrypoint-initdb.d on a new volume.
  await shop.query(readFileSync(hostPath(compose.services.postgres, '/docker-entrypoint-initdb.d/10-orders.sql'), 'utf8'));

  // The webhook service: its command, in the folder mounted at its working_dir, with its environment.
  const hook = compose.services.webhook;
  const hookPort = await freePort();
  const [command, ...args] = hook.command!;
  consumer = spawn(command === 'node' ? process.execPath : command, args, {
    cwd: hostPath(hook, hook.working_dir!),
    env: { PATH: process.env.PATH, ...environment(hook), PORT: String(hookPort) },
  });
  let rest = '';
  consumer.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    const parts = (rest + chunk).split('\n');
    rest = parts.pop() ?? '';
    consumerLines.push(...parts);
  });
  consumer.stderr!.resume();
  await waitFor(
    async () => (await fetch(`http://127.0.0.1:${hookPort}/healthz`).catch(() => undefined))?.ok === true,
    15_000,
    'the webhook consumer',
  );

  // A queue bound to the exchange, as the compose comments suggest (key "public.orders.#").
  rabbit = await AmqpAdmin.connect();
  const connection = await amqp.connect(AMQP_URL);
  const channel = await connection.createChannel();
  await channel.assertExchange('pgbridge', 'topic', { durable: true });
  await connection.close();
  queue = await rabbit.queue('pgbridge', 'public.orders.#');

  const [firstBroker] = cluster.brokers;
  const hosts = {
    'postgres:5432': new URL(PG_ADMIN_URL).host || '127.0.0.1:5432',
    'rabbitmq:5672': new URL(AMQP_URL).host,
    'kafka:9092': firstBroker,
    'webhook:8080': `127.0.0.1:${hookPort}`,
    // Services of the newer sinks, for when the compose file lists them.
    'nats:4222': '127.0.0.1:4222',
    'redis:6379': '127.0.0.1:6379',
    'mqtt:1883': '127.0.0.1:1883',
    'mosquitto:1883': '127.0.0.1:1883',
  };
  const service = compose.services.pgbridge;
  const env = environment(service);
  Object.assign(bridgeEnv, env, {
    PGBRIDGE_CONFIG: hostPath(service, env.PGBRIDGE_CONFIG),
    PGBRIDGE_COMPOSE_HOSTS: JSON.stringify(hosts),
    NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import=${PRELOAD}`.trim(),
  });
  // The entrypoint: install, then run.
  const installed = await cli(['install'], bridgeEnv);
  assert.equal(installed.code, 0, installed.stderr);
  bridge = new RunningBridge(bridgeEnv.PGBRIDGE_CONFIG!, bridgeEnv);
  await bridge.ready(30_000);
});

after(async () => {
  await bridge?.kill('SIGTERM');
  consumer?.kill('SIGTERM');
  const cleanup = await amqp.connect(AMQP_URL).catch(() => undefined);
  await rabbit?.close();
  if (cleanup) {
    const channel = await cleanup.createChannel();
    await channel.deleteExchange('pgbridge').catch(() => {});
    await cleanup.close().catch(() => {});
  }
  // The JetStream stream over pgbridge.*.*.* would take the subjects other tests' streams declare.
  const nats = await NatsAdmin.connect().catch(() => undefined);
  for (const sink of composeSinks.filter((x) => x.type === 'nats' && typeof x.stream === 'string'))
    await nats?.deleteStream(sink.stream as string).catch(() => {});
  await nats?.close().catch(() => {});
  const redis = await redisAdmin().catch(() => undefined);
  if (redis) {
    const keys = await redis.keys('pgbridge:public.orders*');
    if (keys.length > 0) await redis.del(keys);
    await redis.close();
  }
  await shop?.end().catch(() => {});
  await adminDb?.query(`DROP DATABASE IF EXISTS ${DATABASE} WITH (FORCE)`).catch(() => {});
  await adminDb?.end().catch(() => {});
  await cluster?.stop();
});

// Before any order: every sink connects at start, so an idle stack is healthy too.
test("the compose file's pgbridge healthcheck passes (ready on :9187) within its retries", async () => {
  const { test: probe, interval, retries } = compose.services.pgbridge.healthcheck!;
  const [kind, command, ...args] = probe;
  assert.equal(kind, 'CMD');
  const budget = (parseInt(interval, 10) || 10) * (retries || 3) * 1000;
  const passes = () => spawnSync(command === 'node' ? process.execPath : command, args, { timeout: 30_000 }).status === 0;
  await waitFor(
    passes,
    budget,
    `${bridge.logLines.filter((l) => l.includes('"level":40') || l.includes('"level":50')).join('\n')}\nthe healthcheck (/readyz: ${await (await fetch('http://127.0.0.1:9187/readyz').catch(() => undefined))?.text()})`,
  );
});

test('an inserted order is verified at the webhook consumer, on the RabbitMQ exchange, in the Kafka topic and at an MQTT subscriber', async (t) => {
  const customer = `ada-${randomBytes(4).toString('hex')}`;
  // The local Mosquitto stands in for the compose service `mqtt`.
  const subscriber = new MqttSubscriber({ url: 'mqtt://127.0.0.1:1883', filters: ['pgbridge/public/orders/+'], qos: 1 });
  await subscriber.start();
  t.after(() => subscriber.stop());
  const { rows } = await shop.query<{ id: string }>("INSERT INTO orders (customer, status, amount) VALUES ($1, 'new', 42.50) RETURNING id::text", [
    customer,
  ]);
  const id = Number(rows[0].id);
  const mine = (text: string | null) => text !== null && text.includes(customer);

  await waitFor(() => consumerLines.some(mine), 30_000, 'the order printed by the webhook consumer (signature verified)');
  const printed = JSON.parse(consumerLines.find(mine)!) as { op: string; table: string; data: { id: number; customer: string; amount: number } };
  assert.equal(printed.op, 'INSERT');
  assert.equal(printed.table, 'orders');
  assert.deepEqual([printed.data.id, printed.data.customer, printed.data.amount], [id, customer, 42.5]);

  await waitFor(() => queue.messages.some((m) => mine(m.content.toString('utf8'))), 30_000, 'the order on the RabbitMQ exchange');
  const message = queue.messages.find((m) => mine(m.content.toString('utf8')))!;
  assert.equal(message.fields.exchange, 'pgbridge');
  assert.equal(message.fields.routingKey, 'public.orders.insert');

  const topic = await readTopic(cluster.brokers, 'public.orders', { atLeast: 1, timeoutMs: 30_000 });
  const record = topic.find((m) => mine(m.value));
  assert.ok(record, `the order is not in Kafka topic public.orders (${topic.length} messages)`);
  assert.equal(record.key, JSON.stringify({ id }));

  await waitFor(() => subscriber.received.some((m) => mine(m.body)), 30_000, 'the order at the MQTT subscriber');
  const published = subscriber.received.find((m) => mine(m.body))!;
  assert.equal(published.topic, 'pgbridge/public/orders/insert');
  assert.equal(published.userProperties['pgbridge-op'], 'INSERT');
});

test('a later change of the order goes to Kafka only; NOTIFY jobs reaches the webhook consumer', async () => {
  const customer = `grace-${randomBytes(4).toString('hex')}`;
  const { rows } = await shop.query<{ id: string }>("INSERT INTO orders (customer, status, amount) VALUES ($1, 'new', 1) RETURNING id::text", [
    customer,
  ]);
  await shop.query("UPDATE orders SET status = 'paid' WHERE id = $1", [rows[0].id]);
  await shop.query(`NOTIFY jobs, '{"job":"reindex","for":"${customer}"}'`);
  const topic = await readTopic(cluster.brokers, 'public.orders', { atLeast: 3, timeoutMs: 30_000 });
  const changes = topic.filter((m) => m.value?.includes(customer)).map((m) => (JSON.parse(m.value!) as { op: string }).op);
  assert.deepEqual(changes, ['INSERT', 'UPDATE']);
  await waitFor(() => consumerLines.some((l) => l.includes('"channel":"jobs"') && l.includes(customer)), 30_000, 'the jobs message at the consumer');
  await new Promise((r) => setTimeout(r, 1000));
  const updates = queue.messages.filter((m) => m.content.toString('utf8').includes(customer)).map((m) => m.fields.routingKey);
  assert.deepEqual(updates, ['public.orders.insert'], 'the update went to RabbitMQ too');
  assert.equal(consumerLines.filter((l) => l.includes(customer) && l.includes('"op":"UPDATE"')).length, 0, 'the update went to the webhook too');
});
