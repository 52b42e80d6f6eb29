/**
 * `pgbridge import-skor` on a triggers.json whose names are not all lower
 * case, against tables made the way skor's users make them: skor's
 * gen-triggers.py pastes the names into its SQL unquoted, so Postgres folds
 * them, and the generated config must name the same tables and columns that
 * skor's triggers were on, or `install` fails. A double-quoted name is kept.
 * Operation keys count in any case, as gen-triggers.py lower-cases them.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { cli, installAndRun, waitFor, writeConfig, type RunningBridge } from '../support/bridge.js';
import { createTestDatabase, type TestDatabase } from '../support/pg.js';
import { WebhookServer } from '../support/webhook-server.js';

const TRIGGERS = [
  { table: 'MixedCase', columns: ['Id', 'C1'] },
  { table: 'skor_test_t5', schema: 'Other' },
  { table: 'T6', schema: '"Kept"', columns: { update: ['id', '"Col"'] } },
  { table: 'ops_t', columns: { INSERT: '*', Delete: ['id'] } },
];

describe('import-skor: names as Postgres reads them in skor SQL', () => {
  let db: TestDatabase;
  let server: WebhookServer;
  let bridge: RunningBridge | undefined;
  const files: string[] = [];

  before(async () => {
    db = await createTestDatabase();
    await db.query(`CREATE TABLE MixedCase (Id int PRIMARY KEY, C1 int, C2 int);
      CREATE SCHEMA Other; CREATE TABLE Other.skor_test_t5 (id int PRIMARY KEY);
      CREATE SCHEMA "Kept"; CREATE TABLE "Kept".T6 (id int PRIMARY KEY, "Col" int, other int);
      CREATE TABLE ops_t (id int PRIMARY KEY, v int)`);
    server = new WebhookServer();
    await server.start();
  });

  after(async () => {
    await bridge?.kill('SIGTERM');
    await server?.stop();
    await db?.drop();
    for (const file of files) rmSync(path.dirname(file), { recursive: true, force: true });
  });

  test('the config captures the folded names and the ops of upper-case keys; install succeeds; events carry the catalog names', async () => {
    const triggers = writeConfig(TRIGGERS);
    files.push(triggers);
    const imported = await cli(['import-skor', triggers, server.url]);
    assert.equal(imported.code, 0, imported.stderr);
    const config = writeConfig(`${imported.stdout}\nhttp:\n  port: 0\n`, '.yaml');
    files.push(config);
    bridge = await installAndRun(config, { DATABASE_URL: db.url });

    await db.query(`INSERT INTO MixedCase VALUES (1, 2, 3); INSERT INTO Other.skor_test_t5 VALUES (5);
      INSERT INTO "Kept".T6 VALUES (6, 7, 8); UPDATE "Kept".T6 SET other = 9;
      INSERT INTO ops_t VALUES (4, 1); UPDATE ops_t SET v = 2; DELETE FROM ops_t`);
    await waitFor(() => server.requests.length >= 5, 10_000, 'five events');
    await new Promise((resolve) => setTimeout(resolve, 300));

    assert.deepEqual(server.requests.map((r) => r.body).sort(), [
      '{"table":"mixedcase","schema":"public","op":"INSERT","data":{"id":1,"c1":2}}',
      '{"table":"ops_t","schema":"public","op":"DELETE","data":{"id":4}}',
      '{"table":"ops_t","schema":"public","op":"INSERT","data":{"id":4,"v":1}}',
      '{"table":"skor_test_t5","schema":"other","op":"INSERT","data":{"id":5}}',
      '{"table":"t6","schema":"Kept","op":"UPDATE","data":{"id":6,"Col":7}}',
    ]);
  });
});
