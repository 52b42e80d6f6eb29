/**
 * Postgres keeps 63 bytes of a name in the database's encoding. A longer name
 * in the config would have install capture the truncated table while events,
 * routes and the WAL went by the name as written: install refuses it, asking
 * the server. 40 × 'é' is 80 bytes in a UTF-8 database, 40 in a LATIN1 one,
 * where it is a name like any other.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { cli, RunningBridge, waitFor, writeConfig } from '../support/bridge.js';
import { createTestDatabase, type TestDatabase } from '../support/pg.js';

const LONG = 'é'.repeat(40);
let utf8: TestDatabase;
let latin1: TestDatabase;

const config = (db: TestDatabase) =>
  writeConfig({ postgres: { url: db.url }, capture: [{ table: LONG }], sinks: [{ name: 'out', type: 'stdout' }], http: { port: 0 } });

before(async () => {
  utf8 = await createTestDatabase('pgbridge_names_utf8');
  latin1 = await createTestDatabase('pgbridge_names_latin1', { encoding: 'LATIN1' });
  for (const db of [utf8, latin1]) await db.query(`CREATE TABLE "${LONG}" (id int PRIMARY KEY)`);
});

after(async () => {
  await utf8?.drop();
  await latin1?.drop();
});

test('UTF-8 database: install refuses a name Postgres truncates, naming what it keeps; nothing captured', async () => {
  const r = await cli(['install', '-c', config(utf8)]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(
    r.stderr,
    new RegExp(`table name "${LONG}" is longer than Postgres' 63 bytes in this database's encoding \\(it would be "${'é'.repeat(31)}"\\)`),
  );
  const { rows } = await utf8.query(`SELECT tgname FROM pg_trigger WHERE tgname LIKE 'pgbridge%'`);
  assert.deepEqual(rows, []);
});

test('LATIN1 database: the same 40 characters are 40 bytes, installed and delivered under their name', async () => {
  const file = config(latin1);
  const installed = await cli(['install', '-c', file]);
  assert.equal(installed.code, 0, installed.stderr);
  const bridge = new RunningBridge(file);
  try {
    await bridge.ready();
    await latin1.query(`INSERT INTO "${LONG}" VALUES (1)`);
    await waitFor(() => bridge.stdoutEvents().length >= 1, 10_000, 'the event on stdout');
    assert.deepEqual(
      bridge.stdoutEvents<{ table: string; data: unknown }>().map((e) => [e.table, e.data]),
      [[LONG, { id: 1 }]],
    );
  } finally {
    await bridge.stop();
  }
});
