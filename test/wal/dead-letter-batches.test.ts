/**
 * wal mode's dead letters are written many to a statement, as the other modes'
 * are: a bulk UPDATE of rows without their old row, or a sink refusing a burst,
 * makes thousands, and one INSERT each would take the pool from the spill and
 * the reader. Statements counted by a statement-level trigger on the real
 * table; every letter stored once, the slot past the transactions.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { RunningBridge, showingLogOnFailure, waitFor, writeConfig } from '../support/bridge.js';
import { createTestDatabase, type TestDatabase } from '../support/pg.js';
import { WebhookServer } from '../support/webhook-server.js';
import { endWalTest, installedAndStreaming, lsnValue, slotInfo, slotName } from '../support/wal.js';

const ROWS = 3000;

describe('wal mode: dead letters in batches', () => {
  let db: TestDatabase;
  let slot: string;
  let bridge: RunningBridge;
  const refusing = new WebhookServer();
  const accepting = new WebhookServer();

  const letters = async (sink: string): Promise<number> =>
    Number((await db.query<{ n: string }>(`SELECT count(DISTINCT event_id) AS n FROM pgbridge.dead_letters WHERE sink = $1`, [sink])).rows[0].n);
  const statements = async (): Promise<number> => (await db.query<{ n: number }>(`SELECT n FROM letter_statements`)).rows[0].n;
  const currentLsn = async (): Promise<bigint> => lsnValue((await db.query<{ lsn: string }>(`SELECT pg_current_wal_lsn()::text AS lsn`)).rows[0].lsn);

  before(async () => {
    db = await createTestDatabase('pgbridge_walletters');
    slot = slotName(db);
    await db.query(`CREATE TABLE t (id int PRIMARY KEY, v text)`);
    refusing.reply = () => ({ status: 400, body: 'no' });
    const [refusingUrl, acceptingUrl] = await Promise.all([refusing.start(), accepting.start()]);
    const file = writeConfig({
      postgres: { url: db.url },
      delivery: 'wal',
      wal: { slot, heartbeat_interval_ms: 500, status_interval_ms: 500 },
      capture: [{ table: 't' }],
      sinks: [
        { name: 'refusing', type: 'webhook', url: refusingUrl, batch: { max_events: 100, max_wait_ms: 5 } },
        { name: 'accepting', type: 'webhook', url: acceptingUrl, batch: { max_events: 100, max_wait_ms: 5 } },
      ],
      http: { port: 0 },
    });
    bridge = await installedAndStreaming(file);
    await db.query(`CREATE TABLE letter_statements (n int NOT NULL); INSERT INTO letter_statements VALUES (0)`);
    await db.query(`CREATE FUNCTION count_letter_statement() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN UPDATE letter_statements SET n = n + 1; RETURN NULL; END $$`);
    await db.query(`CREATE TRIGGER count_letter_statement AFTER INSERT ON pgbridge.dead_letters
      FOR EACH STATEMENT EXECUTE FUNCTION count_letter_statement()`);
  });

  after(async () => {
    await endWalTest(db, bridge);
    await Promise.all([refusing.stop(), accepting.stop()]);
  });

  test("a sink's refused burst: every event one letter, a few statements, the slot moves on", async () => {
    await db.query(`INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, ${ROWS}) g`);
    const written = await currentLsn();
    await showingLogOnFailure(
      bridge,
      waitFor(async () => (await letters('refusing')) === ROWS, 60_000, `${ROWS} letters of the refusing sink`),
    );
    await waitFor(() => accepting.tally.unique === ROWS, 30_000, 'every event at the accepting sink');
    await waitFor(async () => lsnValue((await slotInfo(slot)).confirmed!) >= written, 15_000, 'the slot past the transaction');
    const n = await statements();
    assert.ok(n <= ROWS / 50, `${ROWS} letters in ${n} INSERT statements`);
    assert.equal(await letters('accepting'), 0);
  });

  test('a bulk UPDATE without the old rows: a letter per row and sink, a few statements, the slot moves on', async () => {
    const before = await statements();
    await db.query(`ALTER TABLE t REPLICA IDENTITY DEFAULT`);
    await db.query(`UPDATE t SET v = 'u' || id`);
    await db.query(`DELETE FROM t WHERE id > 0`);
    await db.query(`INSERT INTO t VALUES (0, 'after')`);
    const written = await currentLsn();
    await showingLogOnFailure(
      bridge,
      waitFor(async () => (await letters('accepting')) === 2 * ROWS, 60_000, `${2 * ROWS} letters of the accepting sink`),
    );
    await waitFor(async () => (await letters('refusing')) === 3 * ROWS + 1, 30_000, 'the refusing sink: the letters and the INSERT after');
    await waitFor(() => accepting.tally.unique === ROWS + 1, 30_000, 'the INSERT after at the accepting sink');
    await waitFor(async () => lsnValue((await slotInfo(slot)).confirmed!) >= written, 15_000, 'the slot past the transactions');
    const n = (await statements()) - before;
    assert.ok(n <= (4 * ROWS) / 50, `${4 * ROWS + 1} letters in ${n} INSERT statements`);
  });
});
