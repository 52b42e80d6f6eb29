/**
 * pgbridge_events_captured_total counts each event once, however many sinks
 * it goes to: in outbox mode every sink has a reader of its own, and each used
 * to count what it read (three sinks: three times the events), channel
 * messages under source="outbox". Now rows count under "outbox" and channel
 * messages under "channel", as notify and wal mode label them. A dead letter
 * retried (like a spill read back) was captured before: not counted again.
 * In notify mode an event too large for NOTIFY, read from the outbox table,
 * is a notify-mode capture like the others (it counted under "outbox").
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { cli, RunningBridge, waitFor, writeConfig } from '../support/bridge.js';
import { createTestDatabase, type TestDatabase } from '../support/pg.js';
import { freePort } from '../support/tcp.js';

let db: TestDatabase;
let bridge: RunningBridge;
let base: string;
let file: string;

before(async () => {
  db = await createTestDatabase();
  await db.query('CREATE TABLE items (id int PRIMARY KEY)');
  await db.query('CREATE TABLE notes (id int PRIMARY KEY)');
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  file = writeConfig({
    postgres: { url: db.url },
    capture: [{ table: 'items' }, { table: 'notes' }],
    channels: [{ name: 'jobs' }],
    sinks: ['a', 'b', 'c'].map((name) => ({ name, type: 'stdout' })),
    routes: [
      { from: { table: 'items' }, to: ['a', 'b', 'c'] },
      { from: { table: 'notes' }, to: ['c'] },
      { from: { channel: 'jobs' }, to: ['b', 'c'] },
    ],
    http: { port, host: '127.0.0.1' },
  });
  assert.equal((await cli(['install', '-c', file])).code, 0);
  bridge = new RunningBridge(file);
  await bridge.ready();
});

after(async () => {
  await bridge?.stop();
  await db?.drop();
});

async function captured(from = base): Promise<Record<string, number>> {
  const text = await (await fetch(`${from}/metrics`)).text();
  const counts: Record<string, number> = {};
  for (const [, source, value] of text.matchAll(/^pgbridge_events_captured_total\{source="(\w+)"\} (\d+)$/gm)) counts[source] = Number(value);
  return counts;
}

test('outbox mode: each event counted once, whatever the number of sinks it goes to; channel messages as channel', async () => {
  await db.query('INSERT INTO items SELECT generate_series(1, 5)');
  await db.query('INSERT INTO notes SELECT generate_series(1, 2)');
  await db.query(`NOTIFY jobs, 'j1'`);
  const lines = 5 * 3 + 2 + 2;
  await waitFor(() => bridge.stdoutLines.filter((l) => l !== '').length >= lines, 10_000, `${lines} lines on stdout`);
  assert.deepEqual(await captured(), { outbox: 7, channel: 1 });
});

test('a dead letter retried is delivered again without counting as captured again', async () => {
  const before = await captured();
  const event = {
    id: 'retried-4f2a',
    schema: 'public',
    table: 'items',
    op: 'INSERT',
    data: { id: 99 },
    old: null,
    txid: '1',
    ts: '2026-12-07T00:00:00Z',
  };
  await db.query(
    `INSERT INTO pgbridge.dead_letters (instance, sink, event_id, event, key, error, attempts) VALUES ('default', 'a', $1, $2, '{"id":99}', 'HTTP 500', 3)`,
    [event.id, JSON.stringify(event)],
  );
  const retry = await cli(['dead-letters', 'retry', '--sink', 'a', '-c', file]);
  assert.equal(retry.code, 0, retry.stderr);
  await waitFor(() => bridge.stdoutLines.some((l) => l.includes(event.id)), 10_000, 'the retried dead letter on stdout');
  assert.deepEqual(await captured(), before);
});

test('notify mode: an event kept in the outbox table for being too large for NOTIFY counts under notify', async () => {
  const notifyDb = await createTestDatabase();
  const port = await freePort();
  const notifyFile = writeConfig({
    postgres: { url: notifyDb.url },
    delivery: 'notify',
    capture: [{ table: 'docs' }],
    sinks: [{ name: 'out', type: 'stdout' }],
    http: { port, host: '127.0.0.1' },
  });
  const notifyBridge = new RunningBridge(notifyFile);
  try {
    await notifyDb.query('CREATE TABLE docs (id int PRIMARY KEY, body text)');
    assert.equal((await cli(['install', '-c', notifyFile])).code, 0);
    await notifyBridge.ready();
    await notifyDb.query(`INSERT INTO docs VALUES (1, 'small'), (2, repeat('x', 20000))`);
    await waitFor(() => notifyBridge.stdoutEvents().length >= 2, 10_000, 'both events on stdout');
    assert.deepEqual(await captured(`http://127.0.0.1:${port}`), { notify: 2 });
  } finally {
    await notifyBridge.stop();
    await notifyDb.drop();
  }
});
