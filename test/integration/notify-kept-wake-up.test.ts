/**
 * Notify mode across an upgrade: `install` of this version run while a bridge
 * from before kept notices still runs (README, upgrading). Such a bridge reads
 * the outbox table on an empty wake-up only and ignores a kept notice, so a
 * trigger that keeps an event too large for NOTIFY sends the wake-up too, after
 * its notices, as the triggers of that version did: without it, the kept event
 * waited for the old bridge's poll and came after its row's next events.
 * Checked on the notifications themselves; found by an upgrade audit.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { cli, writeConfig } from '../support/bridge.js';
import { createTestDatabase, type TestDatabase } from '../support/pg.js';

let db: TestDatabase;
let listener: pg.Client;
const received: string[] = [];

before(async () => {
  db = await createTestDatabase();
  await db.query('CREATE TABLE kw (id int PRIMARY KEY, t text)');
  const file = writeConfig({
    postgres: { url: db.url },
    delivery: 'notify',
    capture: [{ table: 'public.kw' }],
    sinks: [{ name: 'out', type: 'stdout' }],
    http: { port: 0 },
  });
  const installed = await cli(['install', '-c', file]);
  assert.equal(installed.code, 0, installed.stderr);
  listener = new pg.Client(db.url);
  await listener.connect();
  listener.on('notification', (n) => received.push(n.payload ?? ''));
  await listener.query('LISTEN pgbridge');
});

after(async () => {
  await listener?.end();
  await db?.drop();
});

/** The notifications of one statement, once a NOTIFY sent after it has come back. */
async function notificationsOf(sql: string): Promise<string[]> {
  received.length = 0;
  await db.query(sql);
  await db.query("SELECT pg_notify('pgbridge', 'end')");
  for (let i = 0; i < 100 && !received.includes('end'); i++) await new Promise((resolve) => setTimeout(resolve, 50));
  return received.splice(0).filter((p) => p !== 'end');
}

test('a statement that keeps an event in the outbox sends an empty wake-up after its kept notice', async () => {
  const sent = await notificationsOf("INSERT INTO kw VALUES (1, repeat('x', 9000)), (2, 'small')");
  assert.equal(sent.length, 3, JSON.stringify(sent.map((p) => p.slice(0, 80))));
  assert.equal(sent[2], '', 'the wake-up comes last, after the kept notice and the small event');
  assert.ok(sent[0].split('\u0001')[2] === '' && sent[0] !== '', 'the first is the kept notice (data left out)');
  const kept = await db.query('SELECT count(*)::int AS n FROM pgbridge.outbox');
  assert.equal(kept.rows[0].n, 1);
});

test('a statement whose events all fit in NOTIFY sends no wake-up', async () => {
  const sent = await notificationsOf("INSERT INTO kw VALUES (3, 'small'), (4, 'small')");
  assert.equal(sent.length, 2);
  assert.ok(!sent.includes(''));
});
