/**
 * The commands besides `run`, through the real CLI against a real database:
 * install (idempotent, and it removes what the config no longer asks for),
 * uninstall, sql, check, --help and --version.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { BIN, cli, ROOT, RunningBridge, waitFor, writeConfig } from '../support/bridge.js';
import { createTestDatabase, type TestDatabase } from '../support/pg.js';
import { WebhookServer } from '../support/webhook-server.js';

const VERSION = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

/** Triggers on user tables, as "schema.table:trigger". */
async function triggers(db: TestDatabase): Promise<string[]> {
  const { rows } = await db.query<{ t: string }>(
    `SELECT n.nspname || '.' || c.relname || ':' || t.tgname AS t
       FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE NOT t.tgisinternal ORDER BY 1`,
  );
  return rows.map((r) => r.t);
}

async function pgbridgeObjects(db: TestDatabase): Promise<string[]> {
  const { rows } = await db.query<{ o: string }>(
    `SELECT c.relkind::text || ':' || c.relname AS o FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'pgbridge'
     UNION ALL
     SELECT 'f:' || p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'pgbridge'
     ORDER BY 1`,
  );
  return rows.map((r) => r.o);
}

async function schemaExists(db: TestDatabase): Promise<boolean> {
  return (await db.query(`SELECT 1 FROM pg_namespace WHERE nspname = 'pgbridge'`)).rowCount === 1;
}

describe('commands', () => {
  let db: TestDatabase;
  let server: WebhookServer;
  let url: string;
  let both: string;
  let onlyOrders: string;

  before(async () => {
    db = await createTestDatabase();
    server = new WebhookServer();
    url = await server.start();
    await db.query(`CREATE TABLE orders (id int PRIMARY KEY, status text)`);
    await db.query(`CREATE TABLE customers (id int PRIMARY KEY, name text)`);
    await db.query(`INSERT INTO orders VALUES (1, 'kept'), (2, 'kept too')`);
    const config = (capture: object[]) => ({
      postgres: { url: db.url },
      capture,
      sinks: [{ name: 'hook', type: 'webhook', url, retry: { initial_ms: 50, max_ms: 500 } }],
      http: { port: 0 },
    });
    both = writeConfig(config([{ table: 'orders' }, { table: 'customers', ops: ['insert'] }]));
    onlyOrders = writeConfig(config([{ table: 'orders' }]));
  });

  after(async () => {
    await server?.stop();
    await db?.drop();
  });

  test('--help and --version exit 0', async () => {
    const help = await cli(['--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Usage: pgbridge/);
    for (const command of ['run', 'install', 'uninstall', 'sql', 'check']) assert.match(help.stdout, new RegExp(`^\\s+${command}\\b`, 'm'));
    const version = await cli(['--version']);
    assert.equal(version.code, 0);
    assert.equal(version.stdout.trim(), VERSION);
    const short = await cli(['-v']);
    assert.equal(short.stdout.trim(), VERSION);
  });

  test('an unknown command exits 2 with the help', async () => {
    const result = await cli(['frobnicate']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /unknown command "frobnicate"/);
  });

  test('an option a command does not take, an extra argument or a bad --limit: exit 2, nothing done', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['run', 'extra'], /run: unexpected argument "extra"/],
      [['check', '--json'], /check takes no --json/],
      [['status', 'extra'], /status: unexpected argument "extra"/],
      [['install', '--sink', 'hook'], /install takes no --sink/],
      [['dead-letters', 'list', '--limit', 'abc'], /usage: pgbridge dead-letters/],
      [['dead-letters', 'list', '--limit', '0'], /usage: pgbridge dead-letters/],
      [['dead-letters', 'retry', '--limit', '3'], /dead-letters retry takes no --limit/],
      [['dead-letters', 'list', '--json'], /dead-letters list takes no --json/],
      [['dead-letters', 'list', 'extra'], /dead-letters list: unexpected argument "extra"/],
    ];
    for (const [args, message] of cases) {
      const result = await cli([...args, '-c', both]);
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, message);
    }
    // A usage error is told before the config is looked for.
    for (const args of [['dead-letters'], ['dead-letters', 'frob']]) {
      const result = await cli([...args, '-c', '/nonexistent/pgbridge.yaml']);
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, /dead-letters: give list or retry/);
    }
  });

  test('sql prints the SQL install would run, and changes nothing', async () => {
    const result = await cli(['sql', '-c', both]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^BEGIN;/);
    assert.match(result.stdout, /COMMIT;\s*$/);
    assert.match(result.stdout, /CREATE SCHEMA IF NOT EXISTS pgbridge/);
    assert.match(result.stdout, /CREATE OR REPLACE TRIGGER "pgbridge_default_insert" AFTER INSERT ON "public"\."customers"/);
    assert.doesNotMatch(result.stdout, /TRIGGER "pgbridge_default_update" AFTER UPDATE ON "public"\."customers"/);
    assert.equal(await schemaExists(db), false, 'sql ran nothing');
    assert.deepEqual(await triggers(db), []);
  });

  test('the printed SQL works when a migration tool runs it', async () => {
    const scratch = await createTestDatabase();
    try {
      await scratch.query(`CREATE TABLE orders (id int PRIMARY KEY, status text)`);
      await scratch.query(`CREATE TABLE customers (id int PRIMARY KEY, name text)`);
      const file = writeConfig({
        postgres: { url: scratch.url },
        capture: [{ table: 'orders' }],
        sinks: [{ name: 's', type: 'stdout' }],
        http: { port: 0 },
      });
      const result = await cli(['sql', '-c', file]);
      assert.equal(result.code, 0, result.stderr);
      const client = new pg.Client(scratch.url);
      await client.connect();
      try {
        await client.query(result.stdout);
      } finally {
        await client.end();
      }
      assert.deepEqual(await triggers(scratch), [
        'public.orders:pgbridge_default_delete',
        'public.orders:pgbridge_default_insert',
        'public.orders:pgbridge_default_update',
      ]);
      await scratch.query(`INSERT INTO orders VALUES (1, 'x')`);
      assert.equal((await scratch.query(`SELECT 1 FROM pgbridge.outbox`)).rowCount, 1);
    } finally {
      await scratch.drop();
    }
  });

  test('install, twice: the same objects, user rows untouched', async () => {
    const first = await cli(['install', '-c', both]);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(first.stdout, '');
    const afterFirst = { triggers: await triggers(db), objects: await pgbridgeObjects(db) };
    assert.deepEqual(afterFirst.triggers, [
      'public.customers:pgbridge_default_insert',
      'public.orders:pgbridge_default_delete',
      'public.orders:pgbridge_default_insert',
      'public.orders:pgbridge_default_update',
    ]);
    assert.ok(afterFirst.objects.includes('r:outbox'), afterFirst.objects.join(' '));
    assert.ok(afterFirst.objects.includes('r:dead_letters'));
    assert.ok(afterFirst.objects.includes('S:event_id_seq'));

    // A captured change lands in the outbox between the two installs and must survive the second.
    await db.query(`INSERT INTO customers VALUES (1, 'pending')`);
    // The outbox's settled point needs ids taken one at a time: install puts CACHE 1 back.
    await db.query('ALTER SEQUENCE pgbridge.event_id_seq CACHE 50');
    const second = await cli(['install', '-c', both]);
    const { rows: sequence } = await db.query(
      `SELECT cache_size::int FROM pg_sequences WHERE schemaname = 'pgbridge' AND sequencename = 'event_id_seq'`,
    );
    assert.deepEqual(sequence, [{ cache_size: 1 }]);
    assert.equal(second.code, 0, second.stderr);
    assert.deepEqual(await triggers(db), afterFirst.triggers);
    assert.deepEqual(await pgbridgeObjects(db), afterFirst.objects);
    assert.equal((await db.query(`SELECT 1 FROM pgbridge.outbox`)).rowCount, 1, 'the pending event is still there');
    assert.deepEqual((await db.query(`SELECT * FROM orders ORDER BY id`)).rows, [
      { id: 1, status: 'kept' },
      { id: 2, status: 'kept too' },
    ]);
  });

  test('install removes the trigger of a table dropped from the config', async () => {
    const result = await cli(['install', '-c', onlyOrders]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /remove trigger pgbridge_default_insert from public\.customers/);
    assert.deepEqual(await triggers(db), [
      'public.orders:pgbridge_default_delete',
      'public.orders:pgbridge_default_insert',
      'public.orders:pgbridge_default_update',
    ]);
    const functions = (await pgbridgeObjects(db)).filter((o) => o.startsWith('f:'));
    assert.equal(functions.length, 3, `one function per remaining trigger: ${functions.join(' ')}`);
    await db.query(`INSERT INTO customers VALUES (2, 'not captured any more')`);
    assert.equal((await db.query(`SELECT 1 FROM pgbridge.outbox WHERE table_name = 'customers'`)).rowCount, 1, 'only the earlier event');
  });

  test('install fails (exit 1) for a table or a column that does not exist, and changes nothing', async () => {
    const before = { triggers: await triggers(db), objects: await pgbridgeObjects(db) };
    const file = writeConfig({
      postgres: { url: db.url },
      capture: [{ table: 'orders' }, { table: 'nope' }],
      sinks: [{ name: 's', type: 'stdout' }],
      http: { port: 0 },
    });
    const result = await cli(['install', '-c', file]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /public\.nope does not exist/);
    assert.doesNotMatch(result.stderr, /\n\s+at /);
    assert.deepEqual({ triggers: await triggers(db), objects: await pgbridgeObjects(db) }, before);
    const column = writeConfig({
      postgres: { url: db.url },
      capture: [{ table: 'orders', columns: { insert: '*', update: ['id', 'stauts'] } }],
      sinks: [{ name: 's', type: 'stdout' }],
      http: { port: 0 },
    });
    const missingColumn = await cli(['install', '-c', column]);
    assert.equal(missingColumn.code, 1);
    assert.match(missingColumn.stderr, /public\.orders has no column "stauts"/);
    assert.deepEqual({ triggers: await triggers(db), objects: await pgbridgeObjects(db) }, before);
  });

  test('check: ok lines against a reachable webhook, exit 0', async () => {
    const result = await cli(['check', '-c', onlyOrders]);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    const lines = result.stdout.trimEnd().split('\n');
    assert.ok(lines.length >= 4, result.stdout);
    for (const line of lines) assert.match(line, /^[a-z][\w -]*: ok\b/, line);
    assert.ok(lines.some((l) => /^sink hook: ok/.test(l)));
    assert.ok(lines.some((l) => /^postgres: ok/.test(l)));
  });

  test('check: a FAIL line and exit 1 for an unreachable webhook', async () => {
    const closed = new WebhookServer();
    const deadUrl = await closed.start();
    await closed.stop();
    const file = writeConfig({
      postgres: { url: db.url },
      capture: [{ table: 'orders' }],
      sinks: [
        { name: 'alive', type: 'webhook', url },
        { name: 'dead', type: 'webhook', url: deadUrl, timeout_ms: 1000 },
      ],
      http: { port: 0 },
    });
    const result = await cli(['check', '-c', file]);
    assert.equal(result.code, 1, result.stdout + result.stderr);
    assert.match(result.stdout, /^sink alive: ok/m);
    assert.match(result.stdout, /^sink dead: FAIL: .+/m);
    assert.equal(result.stdout.match(/FAIL/g)?.length, 1, result.stdout);
  });

  test('check: the capture line fails for a table not installed yet, and for a listed column renamed since install', async () => {
    await db.query('CREATE TABLE listed (id int PRIMARY KEY, a text)');
    const file = writeConfig({
      postgres: { url: db.url },
      capture: [{ table: 'listed', columns: ['id', 'a'] }],
      sinks: [{ name: 'hook', type: 'webhook', url }],
      http: { port: 0 },
    });
    const before = await cli(['check', '-c', file]);
    assert.equal(before.code, 1);
    assert.match(
      before.stdout,
      // orders' triggers, installed by an earlier test, are this instance's too.
      /^capture: FAIL: not captured yet: public\.listed insert, public\.listed update, public\.listed delete; installed but no longer in the config: public\.orders insert, public\.orders update, public\.orders delete; run `pgbridge install`$/m,
    );
    assert.equal((await cli(['install', '-c', file])).code, 0);
    assert.match((await cli(['check', '-c', file])).stdout, /^capture: ok \(1 table\(s\)\)$/m);
    await db.query('ALTER TABLE listed RENAME COLUMN a TO b');
    const renamed = await cli(['check', '-c', file]);
    assert.equal(renamed.code, 1);
    assert.match(renamed.stdout, /^capture: FAIL: public\.listed has no column "a" .*writes to it may fail/m);
    // Back to what the later tests expect: install with their config drops the trigger of `listed`.
    assert.equal((await cli(['install', '-c', both])).code, 0);
    await db.query('DROP TABLE listed');
  });

  test('check whose reader closes standard output early (| head -1) ends without a stack trace', async () => {
    const child = spawn(process.execPath, [BIN, 'check', '-c', both], { cwd: ROOT });
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const [code] = (await once(child, 'close')) as [number | null];
    assert.equal(code, 1);
    assert.doesNotMatch(stderr, /EPIPE|\n\s+at /, stderr);
  });

  test('check: FAIL and exit 1 when Postgres is unreachable', async () => {
    const file = writeConfig({
      postgres: { url: 'postgres://postgres:s3cr3t-pw@127.0.0.1:9/nodb' },
      capture: [{ table: 'orders' }],
      sinks: [{ name: 'hook', type: 'webhook', url }],
      http: { port: 0 },
    });
    const result = await cli(['check', '-c', file]);
    assert.equal(result.code, 1);
    assert.match(result.stdout, /^postgres: FAIL: /m);
    assert.ok(!(result.stdout + result.stderr).includes('s3cr3t-pw'), 'the password is not printed');
  });

  test('a running bridge delivers what install captured while it was stopped (outbox)', async () => {
    const bridge = new RunningBridge(onlyOrders);
    try {
      await bridge.ready();
      await waitFor(() => server.requests.some((r) => r.body.includes('"pending"')), 10_000, 'the pending customers event');
      await db.query(`UPDATE orders SET status = 'seen' WHERE id = 1`);
      await waitFor(() => server.requests.some((r) => r.body.includes('"seen"')), 10_000, 'a live event');
    } finally {
      await bridge.kill('SIGTERM');
    }
  });

  test("two instances whose names share a prefix (blue, blue_eu) never touch each other's objects", async () => {
    const shared = await createTestDatabase();
    try {
      await shared.query(`CREATE TABLE a (id int PRIMARY KEY)`);
      await shared.query(`CREATE TABLE b (id int PRIMARY KEY)`);
      const instance = (name: string, table: string) =>
        writeConfig({ postgres: { url: shared.url }, instance: name, capture: [table], sinks: [{ name: 's', type: 'stdout' }], http: { port: 0 } });
      const blue = instance('blue', 'a');
      const blueEu = instance('blue_eu', 'b');
      const ops = ['delete', 'insert', 'update'];
      const expected = [...ops.map((op) => `public.a:pgbridge_blue_${op}`), ...ops.map((op) => `public.b:pgbridge_blue_eu_${op}`)];
      for (const file of [blueEu, blue, blueEu, blue]) {
        const result = await cli(['install', '-c', file]);
        assert.equal(result.code, 0, result.stderr);
        assert.doesNotMatch(result.stderr, /remove trigger/);
      }
      assert.deepEqual(await triggers(shared), expected);
      const uninstalled = await cli(['uninstall', '-c', blue]);
      assert.equal(uninstalled.code, 0, uninstalled.stderr);
      assert.deepEqual(await triggers(shared), expected.slice(3));
      assert.equal(await schemaExists(shared), true, 'blue_eu still needs the schema');
      await shared.query(`INSERT INTO b VALUES (1)`);
      assert.equal((await shared.query(`SELECT 1 FROM pgbridge.outbox_blue_eu`)).rowCount, 1, 'blue_eu still captures');
      const last = await cli(['uninstall', '-c', blueEu]);
      assert.equal(last.code, 0, last.stderr);
      assert.deepEqual(await triggers(shared), []);
      assert.equal(await schemaExists(shared), false);
    } finally {
      await shared.drop();
    }
  });

  test('uninstall removes everything; user tables and rows untouched; a second uninstall is fine', async () => {
    const result = await cli(['uninstall', '-c', onlyOrders]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(await schemaExists(db), false);
    assert.deepEqual(await triggers(db), []);
    assert.deepEqual((await db.query(`SELECT * FROM orders ORDER BY id`)).rows, [
      { id: 1, status: 'seen' },
      { id: 2, status: 'kept too' },
    ]);
    assert.equal((await db.query(`SELECT count(*)::int AS n FROM customers`)).rows[0].n, 2);
    await db.query(`INSERT INTO orders VALUES (3, 'after uninstall')`); // no trigger left to fail
    const again = await cli(['uninstall', '-c', onlyOrders]);
    assert.equal(again.code, 0, again.stderr);
  });

  test("after an uninstall, a new install's events never reuse an earlier install's ids (consumers deduplicate by id)", async () => {
    const ids = (): bigint[] => server.delivered().map((e) => BigInt((e as { id: string }).id));
    const before = ids();
    assert.ok(before.length > 0, 'events of the first install arrived');
    assert.equal((await cli(['install', '-c', onlyOrders])).code, 0);
    const bridge = new RunningBridge(onlyOrders);
    try {
      await bridge.ready();
      await db.query(`UPDATE orders SET status = 'reinstalled' WHERE id = 2`);
      await waitFor(() => server.requests.some((r) => r.body.includes('"reinstalled"')), 10_000, 'the event of the new install');
    } finally {
      await bridge.kill('SIGTERM');
      assert.equal((await cli(['uninstall', '-c', onlyOrders])).code, 0);
    }
    const newer = ids().slice(before.length);
    assert.equal(newer.length, 1);
    const highest = before.reduce((a, b) => (a > b ? a : b));
    assert.ok(newer[0] > highest, `the new id ${newer[0]} is above every earlier one (up to ${highest})`);
  });
});
