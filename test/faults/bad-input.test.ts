/**
 * Bad input beyond test/integration/core-bad-input.test.ts (which has the
 * injection table names, 1 MB rows and the 8000-byte edge): reserved words
 * and an injection-shaped channel name, 300 columns, a 50 MB row (with the
 * bridge's RSS), generated columns, a table dropped or altered while captured,
 * and raw channel payloads Postgres may or may not accept. Each one ends in a
 * delivery, a dead letter or a clear error, and later events still arrive.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { installAndRun, type RunningBridge, waitFor, writeConfig } from '../support/bridge.js';
import { createTestDatabase, type TestDatabase } from '../support/pg.js';
import { WebhookServer } from '../support/webhook-server.js';
import { rssKb } from '../integration/outbox-harness.js';

interface Delivered {
  id: string;
  schema?: string;
  table?: string;
  op?: string;
  data?: Record<string, unknown>;
  channel?: string;
  payload?: unknown;
}

const INJECTION_CHANNEL = 'x"; drop table y; --';
const WIDE_COLUMNS = 300;
const FIFTY_MB = 50 * 1024 * 1024;

/** One database, one webhook, one bridge per delivery mode; helpers to find what arrived. */
class Fixture {
  db!: TestDatabase;
  server = new WebhookServer();
  bridge!: RunningBridge;

  constructor(readonly delivery: 'outbox' | 'notify') {}

  async start(capture: object[]): Promise<void> {
    this.db = await createTestDatabase('pgbridge_badin');
    const url = await this.server.start();
    await this.setUpTables();
    const file = writeConfig({
      postgres: { url: this.db.url },
      delivery: this.delivery,
      capture,
      channels: [{ name: 'jobs' }, { name: INJECTION_CHANNEL }],
      sinks: [{ name: 'hook', type: 'webhook', url, timeout_ms: 60_000, retry: { initial_ms: 50, max_ms: 500, max_attempts: 5 } }],
      outbox: { poll_interval_ms: 200 },
      http: { port: 0 },
    });
    this.bridge = await installAndRun(file);
  }

  private async setUpTables(): Promise<void> {
    const q = (sql: string) => this.db.query(sql);
    await q(`CREATE TABLE y (id int)`);
    await q(`INSERT INTO y VALUES (42)`);
    await q(`CREATE TABLE canary (id int PRIMARY KEY)`);
    await q(`CREATE SCHEMA "user"`);
    await q(`CREATE TABLE "user"."order" ("select" int PRIMARY KEY, "from" text, "where" text, "table" text)`);
    const cols = Array.from({ length: WIDE_COLUMNS - 1 }, (_, i) => `c${i + 1} int`).join(', ');
    await q(`CREATE TABLE wide (id int PRIMARY KEY, ${cols})`);
    await q(`CREATE TABLE wide_list (id int PRIMARY KEY, ${cols})`);
    await q(`CREATE TABLE huge (id int PRIMARY KEY, body text)`);
    await q(`CREATE TABLE priced (id int PRIMARY KEY, qty int, price numeric, total numeric GENERATED ALWAYS AS (qty * price) STORED)`);
    await q(`CREATE TABLE doomed (id int PRIMARY KEY)`);
    await q(`CREATE TABLE shifty (id int PRIMARY KEY, a text, b text)`);
    await q(`CREATE TABLE shifty_list (id int PRIMARY KEY, a text, b text)`);
  }

  all(): Delivered[] {
    return this.server.requests.map((r) => JSON.parse(r.body) as Delivered);
  }

  rows(table: string, schema = 'public'): Delivered[] {
    return this.all().filter((e) => e.table === table && e.schema === schema);
  }

  channel(name: string): Delivered[] {
    return this.all().filter((e) => e.channel === name);
  }

  async arrived(table: string, count: number, schema = 'public', timeoutMs = 15_000): Promise<Delivered[]> {
    await waitFor(() => this.rows(table, schema).length >= count, timeoutMs, `${count} events of ${schema}.${table}`);
    return this.rows(table, schema);
  }

  /** A later event still arrives: the bridge is alive and delivering. */
  async stillDelivering(id: number): Promise<void> {
    await this.db.query(`INSERT INTO canary VALUES ($1)`, [id]);
    await waitFor(() => this.rows('canary').some((e) => e.data?.id === id), 15_000, `canary ${id}`);
  }

  async stop(): Promise<void> {
    await this.bridge?.kill('SIGTERM');
    await this.server.stop();
    await this.db?.drop();
  }
}

const wideColumns = Array.from({ length: WIDE_COLUMNS - 1 }, (_, i) => `c${i + 1}`);

describe('bad input: tables (outbox mode)', () => {
  const f = new Fixture('outbox');

  before(() =>
    f.start([
      { table: 'canary' },
      { table: 'user.order' },
      { table: 'wide' },
      { table: 'wide_list', columns: ['id', ...wideColumns.slice(0, 250)] },
      { table: 'huge' },
      { table: 'priced' },
      { table: 'doomed' },
      { table: 'shifty' },
      { table: 'shifty_list', columns: ['id', 'a'] },
    ]),
  );
  after(() => f.stop());

  test('reserved words as schema, table and column names ("user"."order" with "select", "from", …)', async () => {
    await f.db.query(`INSERT INTO "user"."order" VALUES (1, 'f', 'w', 't')`);
    await f.db.query(`UPDATE "user"."order" SET "from" = 'g'`);
    await f.db.query(`DELETE FROM "user"."order"`);
    const got = await f.arrived('order', 3, 'user');
    assert.deepEqual(
      got.map((e) => [e.op, e.data]),
      [
        ['INSERT', { select: 1, from: 'f', where: 'w', table: 't' }],
        ['UPDATE', { select: 1, from: 'g', where: 'w', table: 't' }],
        ['DELETE', { select: 1, from: 'g', where: 'w', table: 't' }],
      ],
    );
  });

  test('a channel named like an injection is LISTENed on, quoted, and injects nothing', async () => {
    await f.db.query(`SELECT pg_notify($1, 'hi')`, [INJECTION_CHANNEL]);
    await waitFor(() => f.channel(INJECTION_CHANNEL).length === 1, 15_000, 'the channel message');
    assert.equal(f.channel(INJECTION_CHANNEL)[0].payload, 'hi');
    const { rows } = await f.db.query<{ id: number }>(`SELECT id FROM y`);
    assert.deepEqual(rows, [{ id: 42 }]);
  });

  test('a table of 300 columns, captured whole and through a list of 251 columns', async () => {
    const values = Array.from({ length: WIDE_COLUMNS - 1 }, (_, i) => i + 1).join(', ');
    await f.db.query(`INSERT INTO wide VALUES (1, ${values})`);
    await f.db.query(`INSERT INTO wide_list VALUES (1, ${values})`);
    const [whole] = await f.arrived('wide', 1);
    assert.equal(Object.keys(whole.data!).length, WIDE_COLUMNS);
    assert.equal(whole.data!.c299, 299);
    const [listed] = await f.arrived('wide_list', 1);
    assert.deepEqual(Object.keys(listed.data!), ['id', ...wideColumns.slice(0, 250)]);
    assert.equal(listed.data!.c250, 250);
  });

  test('a 50 MB row: the INSERT succeeds, the event is delivered whole, the bridge stays up; its RSS is measured', async (t) => {
    const body = 'x'.repeat(FIFTY_MB - 7) + 'the-end';
    const rssBefore = rssKb(f.bridge.pid);
    let rssPeak = rssBefore;
    const sampler = setInterval(() => {
      try {
        rssPeak = Math.max(rssPeak, rssKb(f.bridge.pid));
      } catch {
        // the process is gone: the assertions below say so
      }
    }, 20);
    try {
      await f.db.query(`INSERT INTO huge VALUES (1, $1)`, [body]);
      await f.arrived('huge', 1, 'public', 120_000);
    } finally {
      clearInterval(sampler);
    }
    const [event] = f.rows('huge');
    const text = event.data!.body as string;
    assert.equal(text.length, FIFTY_MB);
    assert.ok(text.endsWith('the-end'));
    t.diagnostic(
      `fault=50mb-row mode=outbox outcome=delivered bytes=${FIFTY_MB} rss_before_kb=${rssBefore} rss_peak_kb=${rssPeak} rss_after_kb=${rssKb(f.bridge.pid)}`,
    );
    assert.ok(rssPeak < 1_500_000, `RSS peaked at ${rssPeak} kB`);
    await f.stillDelivering(1);
  });

  test('generated columns arrive with their computed value', async () => {
    await f.db.query(`INSERT INTO priced (id, qty, price) VALUES (1, 3, 2.50)`);
    await f.db.query(`UPDATE priced SET qty = 4`);
    const got = await f.arrived('priced', 2);
    assert.deepEqual(
      got.map((e) => e.data),
      [
        { id: 1, qty: 3, price: 2.5, total: 7.5 },
        { id: 1, qty: 4, price: 2.5, total: 10.0 },
      ],
    );
  });

  test('a table dropped while captured: its events already committed arrive, the bridge goes on', async () => {
    await f.db.query(`BEGIN; INSERT INTO doomed VALUES (1), (2); COMMIT`);
    await f.db.query(`DROP TABLE doomed`);
    await f.arrived('doomed', 2);
    await sleep(500); // the poll loop runs a few times with the table gone
    await f.stillDelivering(2);
    const errors = f.bridge.logs().filter((e) => (e.level as number) >= 50);
    assert.deepEqual(errors, [], 'no error logged');
  });

  test('a table altered while captured ("*"): a column added, dropped, renamed; events follow the new shape', async () => {
    await f.db.query(`INSERT INTO shifty VALUES (1, 'a', 'b')`);
    await f.db.query(`ALTER TABLE shifty ADD COLUMN c int DEFAULT 7`);
    await f.db.query(`INSERT INTO shifty VALUES (2, 'a', 'b')`);
    await f.db.query(`ALTER TABLE shifty DROP COLUMN b`);
    await f.db.query(`INSERT INTO shifty VALUES (3, 'a')`);
    await f.db.query(`ALTER TABLE shifty RENAME COLUMN a TO a2`);
    await f.db.query(`UPDATE shifty SET c = 8 WHERE id = 3`);
    const got = await f.arrived('shifty', 4);
    // Events of one row arrive in commit order; rows have lanes of their own (4 in flight), so
    // rows may interleave: a stable sort by row keeps each row's own order, which is what is checked.
    assert.deepEqual(
      got.map((e) => e.data as { id: number }).sort((x, y) => x.id - y.id),
      [
        { id: 1, a: 'a', b: 'b' },
        { id: 2, a: 'a', b: 'b', c: 7 },
        { id: 3, a: 'a', c: 7 },
        { id: 3, a2: 'a', c: 8 },
      ],
    );
  });

  test('a column list whose column is renamed: the write fails with an error naming the column (re-run install), nothing half-captured', async () => {
    await f.db.query(`ALTER TABLE shifty_list ADD COLUMN extra int`);
    await f.db.query(`INSERT INTO shifty_list VALUES (1, 'a', 'b', 5)`);
    const [first] = await f.arrived('shifty_list', 1);
    assert.deepEqual(first.data, { id: 1, a: 'a' }, 'an added column outside the list changes nothing');
    await f.db.query(`ALTER TABLE shifty_list RENAME COLUMN a TO a2`);
    await assert.rejects(f.db.query(`INSERT INTO shifty_list VALUES (2, 'a', 'b', 5)`), /column r\.a does not exist/);
    const { rows } = await f.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM shifty_list`);
    assert.equal(rows[0].n, 1, 'the failed write left no row behind');
    await f.stillDelivering(3);
  });
});

for (const delivery of ['notify', 'outbox'] as const) {
  describe(`bad input: raw channel payloads (delivery: ${delivery})`, () => {
    const f = new Fixture(delivery);
    before(() => f.start([{ table: 'canary' }]));
    after(() => f.stop());

    const notify = (payload: string) => f.db.query(`SELECT pg_notify('jobs', $1)`, [payload]);

    test('empty, 7999 bytes, not JSON, duplicate keys: each arrives; what Postgres refuses is refused at NOTIFY time', async (t) => {
      await f.db.query(`NOTIFY jobs`);
      await notify('x'.repeat(7999));
      await assert.rejects(notify('x'.repeat(8000)), /payload string too long/);
      await assert.rejects(
        f.db.query(`SELECT pg_notify('jobs', convert_from('\\xc328'::bytea, 'UTF8'))`),
        /invalid byte sequence for encoding "UTF8"/,
      );
      await assert.rejects(f.db.query(`SELECT pg_notify('jobs', E'bad \\xc3\\x28 bytes')`), /invalid byte sequence for encoding "UTF8"/);
      await notify('not json {');
      await notify('{"a":1,"a":2}');
      await waitFor(() => f.channel('jobs').length >= 4, 15_000, 'four channel messages');
      await f.stillDelivering(1);

      const bodies = f.server.requests.map((r) => r.body).filter((b) => b.includes('"channel":"jobs"'));
      assert.equal(bodies.length, 4, 'nothing refused arrived, nothing arrived twice');
      const payloads = f.channel('jobs').map((e) => e.payload);
      assert.deepEqual(payloads.slice(0, 3), ['', 'x'.repeat(7999), 'not json {']);
      // Duplicate keys travel as Postgres got them; a JSON.parse consumer sees the last one.
      assert.ok(bodies[3].includes('"payload":{"a":1,"a":2}'), bodies[3]);
      assert.deepEqual(payloads[3], { a: 2 });
      t.diagnostic(`fault=channel-payloads mode=${delivery} sent=7 delivered=4 refused_by_postgres=3 duplicated=0`);
    });
  });
}
