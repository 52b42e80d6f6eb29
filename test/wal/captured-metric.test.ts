/**
 * pgbridge_events_captured_total in wal mode: row changes under source="wal",
 * channel messages under "channel", as the other modes label them, whether
 * they come as a raw NOTIFY or durably, as pg_logical_emit_message (which the
 * counter once took for row changes).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { RunningBridge, waitFor, writeConfig } from '../support/bridge.js';
import { createTestDatabase, type TestDatabase } from '../support/pg.js';
import { freePort } from '../support/tcp.js';
import { endWalTest, installedAndStreaming, slotName } from '../support/wal.js';

let db: TestDatabase;
let bridge: RunningBridge | undefined;
let base: string;

before(async () => {
  db = await createTestDatabase('pgbridge_walcaptured');
  await db.query('CREATE TABLE items (id int PRIMARY KEY)');
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  const file = writeConfig({
    postgres: { url: db.url },
    delivery: 'wal',
    wal: { slot: slotName(db) },
    capture: [{ table: 'items' }],
    channels: [{ name: 'jobs' }],
    sinks: [{ name: 'out', type: 'stdout' }],
    http: { port, host: '127.0.0.1' },
  });
  bridge = await installedAndStreaming(file);
});

after(async () => {
  await endWalTest(db, bridge);
});

async function captured(): Promise<Record<string, number>> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const counts: Record<string, number> = {};
  for (const [, source, value] of text.matchAll(/^pgbridge_events_captured_total\{source="(\w+)"\} (\d+)$/gm)) counts[source] = Number(value);
  return counts;
}

test('wal mode: row changes as wal, emitted and raw channel messages as channel', async () => {
  await db.query('INSERT INTO items SELECT generate_series(1, 3)');
  await db.query(`SELECT pg_logical_emit_message(true, 'pgbridge:jobs', '{"job":1}')`);
  await db.query(`SELECT pg_logical_emit_message(true, 'pgbridge:jobs', '{"job":2}')`);
  await db.query(`NOTIFY jobs, 'raw'`);
  await waitFor(() => bridge!.stdoutEvents().length >= 6, 30_000, '6 events on stdout');
  const total = async (): Promise<number> => Object.values(await captured()).reduce((a, b) => a + b, 0);
  await waitFor(async () => (await total()) === 6, 10_000, 'the 6 events counted');
  assert.deepEqual(await captured(), { wal: 3, channel: 3 });
});
