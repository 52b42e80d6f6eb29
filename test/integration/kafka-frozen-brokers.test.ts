/**
 * A transient Kafka outage through the real bridge (install + run): the
 * brokers (a kcat mock cluster of this file's own) frozen with SIGSTOP for
 * longer than the sink's timeout_ms while rows are inserted, then SIGCONT.
 * kafkajs fails those sends with request timeouts and then "Broker not
 * connected" (a plain Error inside KafkaJSNumberOfRetriesExceeded), which the
 * sink once dead-lettered as permanent even with retry.max_attempts 0. Every
 * row must arrive in the topic, and none be a dead letter.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { installAndRun, showingLogOnFailure, waitFor, writeConfig, type RunningBridge } from '../support/bridge.js';
import { readTopic, startMockCluster, type MockCluster } from '../support/kafka.js';
import { createTestDatabase, type TestDatabase } from '../support/pg.js';

const ROWS = 10;
/** Request timeouts first, then sends through producers reconnected to the frozen brokers. */
const FAILED_ATTEMPTS_WHILE_FROZEN = 3;

let cluster: MockCluster;
let db: TestDatabase;
let bridge: RunningBridge | undefined;
const topic = `frozen-${randomBytes(4).toString('hex')}`;

before(async () => {
  cluster = await startMockCluster();
  db = await createTestDatabase();
  await db.query(`CREATE TABLE items (id int PRIMARY KEY, note text)`);
});

after(async () => {
  cluster?.thaw();
  await bridge?.stop();
  await db?.drop();
  await cluster?.stop();
});

/** The row ids in the topic, each once however often it was delivered. */
async function idsInTopic(): Promise<Set<number>> {
  const messages = await readTopic(cluster.brokers, topic);
  return new Set(messages.map((m) => (JSON.parse(m.value ?? '{}') as { data: { id: number } }).data.id));
}

const insert = (id: number) => db.query(`INSERT INTO items VALUES ($1, $2)`, [id, `row ${id}`]);

test('brokers frozen past timeout_ms while rows are inserted: every row arrives once they thaw, no dead letters', async () => {
  const sink = {
    name: 'kafka',
    type: 'kafka',
    brokers: cluster.brokers,
    topic,
    timeout_ms: 1000,
    retry: { initial_ms: 100, max_ms: 500, max_attempts: 0 },
  };
  // debug: every failed attempt is logged, not only the first and every tenth.
  const config = { postgres: { url: db.url }, capture: [{ table: 'items' }], sinks: [sink], log: { level: 'debug' }, http: { port: 0 } };
  bridge = await installAndRun(writeConfig(config));
  const running = bridge;
  const logged = (msg: string) => running.logs().filter((e) => e.msg === msg);
  const enoughFailures = (): boolean =>
    logged('permanent failure: moving events to dead letters').length > 0 ||
    logged('delivery failed, will retry').some((e) => Number(e.attempt) >= FAILED_ATTEMPTS_WHILE_FROZEN);

  // Connected, topic made, metadata known: what follows is the outage alone.
  await insert(0);
  await showingLogOnFailure(
    running,
    waitFor(async () => (await idsInTopic()).has(0), 30_000, 'row 0 in the topic'),
  );

  cluster.freeze();
  try {
    for (let id = 1; id <= ROWS; id++) await insert(id);
    // Frozen until the sink has come through the failures that once dead-lettered the rows, however fast this machine.
    await showingLogOnFailure(running, waitFor(enoughFailures, 90_000, `${FAILED_ATTEMPTS_WHILE_FROZEN} failed attempts while frozen`));
  } finally {
    cluster.thaw();
  }

  const all = Array.from({ length: ROWS + 1 }, (_, id) => id);
  await showingLogOnFailure(
    running,
    waitFor(async () => (await db.query(`SELECT 1 FROM pgbridge.outbox`)).rowCount === 0, 60_000, 'an empty outbox'),
  );
  const deadLetters = await db.query<{ event_id: string; error: string; attempts: number }>(
    `SELECT event_id, error, attempts FROM pgbridge.dead_letters`,
  );
  assert.deepEqual(deadLetters.rows, [], 'no event dead-lettered by a transient outage');
  let ids = new Set<number>();
  const everyRowIn = async (): Promise<boolean> => {
    ids = await idsInTopic();
    return all.every((id) => ids.has(id));
  };
  await showingLogOnFailure(running, waitFor(everyRowIn, 30_000, 'every row in the topic'));
  assert.deepEqual(
    [...ids].sort((a, b) => a - b),
    all,
  );
});
