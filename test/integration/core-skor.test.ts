/**
 * skor's behaviour, end to end through the real CLI: INSERT, UPDATE and DELETE
 * with every column, with a column list and with a per-op column map, compared
 * as raw body text against skor's payloads. Run in both delivery modes: notify
 * is skor's own model, outbox must send the very same bytes. Events of one row
 * arrive in order, so each row's bodies are compared as a sequence.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { cli, RunningBridge, waitFor, writeConfig, installAndRun } from '../support/bridge.js';
import { createTestDatabase, type TestDatabase } from '../support/pg.js';
import { WebhookServer } from '../support/webhook-server.js';

/**
 * Outbox mode runs on the config `pgbridge import-skor` makes of a skor
 * triggers.json holding the same three tables: the migration path itself.
 */
async function importedFromSkor(url: string): Promise<string> {
  const triggers = writeConfig([
    { table: 'test_table' },
    { table: 'cols_table', schema: 'public', columns: ['id', 'name', 'status'] },
    { table: 'perop_table', columns: { insert: '*', update: ['id', 'status'], delete: ['id'] } },
  ]);
  const imported = await cli(['import-skor', triggers, url]);
  assert.equal(imported.code, 0, imported.stderr);
  // Port 0: no /metrics listener that could collide with another bridge on this machine.
  return writeConfig(`${imported.stdout}\nhttp:\n  port: 0\n`, '.yaml');
}

for (const delivery of ['notify', 'outbox'] as const) {
  describe(`skor format (delivery: ${delivery})`, () => {
    let db: TestDatabase;
    let server: WebhookServer;
    let bridge: RunningBridge;

    const bodies = (table: string): string[] =>
      server.requests.filter((r) => r.url === '/hook' && (JSON.parse(r.body) as { table: string }).table === table).map((r) => r.body);

    /** Waits for `count` bodies of `table`, then a little longer so that extra ones would show. */
    async function arrived(table: string, count: number): Promise<string[]> {
      await waitFor(() => bodies(table).length >= count, 10_000, `${count} ${table} events`);
      await new Promise((r) => setTimeout(r, 200));
      return bodies(table);
    }

    before(async () => {
      db = await createTestDatabase();
      server = new WebhookServer();
      const url = await server.start();
      await db.query(`CREATE TABLE test_table (id int PRIMARY KEY, name text)`);
      await db.query(`CREATE TABLE cols_table (id int PRIMARY KEY, name text, secret text, status text)`);
      await db.query(`CREATE TABLE perop_table (id int PRIMARY KEY, name text, status text, note text)`);
      const file =
        delivery === 'notify'
          ? writeConfig({
              postgres: { url: db.url },
              delivery,
              capture: [
                { table: 'test_table' },
                { table: 'public.cols_table', columns: ['id', 'name', 'status'] },
                { table: 'perop_table', columns: { insert: '*', update: ['id', 'status'], delete: ['id'] } },
              ],
              sinks: [{ name: 'skor', type: 'webhook', url, format: 'skor', retry: { initial_ms: 50, max_ms: 500 } }],
              http: { port: 0 },
            })
          : await importedFromSkor(url);
      bridge = await installAndRun(file, { DATABASE_URL: db.url });
    });

    after(async () => {
      await bridge?.kill('SIGTERM');
      await server?.stop();
      await db?.drop();
    });

    test('all columns: INSERT, UPDATE, DELETE', async () => {
      await db.query(`INSERT INTO test_table VALUES (1, 'abc1')`);
      await db.query(`UPDATE test_table SET name = 'abc2' WHERE id = 1`);
      await db.query(`DELETE FROM test_table WHERE id = 1`);
      assert.deepEqual(await arrived('test_table', 3), [
        '{"table":"test_table","schema":"public","op":"INSERT","data":{"id":1,"name":"abc1"}}',
        '{"table":"test_table","schema":"public","op":"UPDATE","data":{"id":1,"name":"abc2"}}',
        '{"table":"test_table","schema":"public","op":"DELETE","data":{"id":1,"name":"abc2"}}',
      ]);
      const request = server.requests.find((r) => r.body.includes('"test_table"'))!;
      assert.equal(request.method, 'POST');
      assert.match(String(request.headers['content-type']), /^application\/json/);
    });

    test('a column list keeps only those columns, in the listed order', async () => {
      await db.query(`INSERT INTO cols_table VALUES (7, 'seven', 'hunter2', 'new')`);
      await db.query(`UPDATE cols_table SET status = 'paid', secret = 'changed' WHERE id = 7`);
      await db.query(`DELETE FROM cols_table WHERE id = 7`);
      assert.deepEqual(await arrived('cols_table', 3), [
        '{"table":"cols_table","schema":"public","op":"INSERT","data":{"id":7,"name":"seven","status":"new"}}',
        '{"table":"cols_table","schema":"public","op":"UPDATE","data":{"id":7,"name":"seven","status":"paid"}}',
        '{"table":"cols_table","schema":"public","op":"DELETE","data":{"id":7,"name":"seven","status":"paid"}}',
      ]);
    });

    test('a per-op column map: insert "*", update [id, status], delete [id]', async () => {
      await db.query(`INSERT INTO perop_table VALUES (3, 'three', 'new', 'n')`);
      await db.query(`UPDATE perop_table SET status = 'shipped', note = 'm' WHERE id = 3`);
      await db.query(`DELETE FROM perop_table WHERE id = 3`);
      assert.deepEqual(await arrived('perop_table', 3), [
        '{"table":"perop_table","schema":"public","op":"INSERT","data":{"id":3,"name":"three","status":"new","note":"n"}}',
        '{"table":"perop_table","schema":"public","op":"UPDATE","data":{"id":3,"status":"shipped"}}',
        '{"table":"perop_table","schema":"public","op":"DELETE","data":{"id":3}}',
      ]);
    });

    test('a statement touching several rows sends one event per row', async () => {
      await db.query(`INSERT INTO test_table SELECT g, 'row' || g FROM generate_series(10, 12) g`);
      await db.query(`UPDATE test_table SET name = upper(name) WHERE id BETWEEN 10 AND 12`);
      const got = (await arrived('test_table', 9)).filter((b) => /"id":1\d,/.test(b));
      assert.deepEqual(
        got.sort(),
        [
          ...[10, 11, 12].map((i) => `{"table":"test_table","schema":"public","op":"INSERT","data":{"id":${i},"name":"row${i}"}}`),
          ...[10, 11, 12].map((i) => `{"table":"test_table","schema":"public","op":"UPDATE","data":{"id":${i},"name":"ROW${i}"}}`),
        ].sort(),
      );
    });
  });
}
