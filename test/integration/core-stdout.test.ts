/**
 * The stdout sink: NDJSON, one event per line, and nothing else on stdout —
 * the logs go to stderr, also pretty ones, also at shutdown.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { cli, RunningBridge, waitFor, writeConfig } from '../support/bridge.js';
import { createTestDatabase, type TestDatabase } from '../support/pg.js';

interface Event {
  id: string;
  schema?: string;
  table?: string;
  op?: string;
  data?: Record<string, unknown>;
  old?: Record<string, unknown> | null;
  channel?: string;
  payload?: unknown;
}

describe('stdout sink', () => {
  let db: TestDatabase;

  before(async () => {
    db = await createTestDatabase();
    await db.query(`CREATE TABLE notes (id int PRIMARY KEY, body text)`);
  });

  after(() => db?.drop());

  for (const pretty of [false, true]) {
    test(`NDJSON on stdout, one event per line, nothing else (log.pretty: ${pretty})`, async () => {
      await db.query(`TRUNCATE notes`);
      const file = writeConfig({
        postgres: { url: db.url },
        capture: [{ table: 'notes' }],
        channels: [{ name: 'jobs' }],
        sinks: [{ name: 'out', type: 'stdout' }],
        http: { port: 0 },
        log: { level: 'debug', pretty },
      });
      const installed = await cli(['install', '-c', file]);
      assert.equal(installed.code, 0, installed.stderr);
      assert.equal(installed.stdout, '', 'install prints nothing on stdout');
      const bridge = new RunningBridge(file);
      try {
        await waitFor(() => bridge.logLines.some((l) => l.includes('holding the delivery lock')), 15_000, 'the delivery lock');
        await new Promise((r) => setTimeout(r, 300));
        await db.query(`INSERT INTO notes VALUES (1, 'one'), (2, 'line
break and "quotes"')`);
        await db.query(`UPDATE notes SET body = 'uno' WHERE id = 1`);
        await db.query(`DELETE FROM notes WHERE id = 2`);
        await db.query(`NOTIFY jobs, '{"job": 7}'`);
        await waitFor(() => bridge.stdoutLines.length >= 5, 10_000, 'five lines on stdout');
      } finally {
        assert.equal(await bridge.kill('SIGTERM'), 0, 'clean exit on SIGTERM');
      }
      const lines = bridge.stdoutLines.filter((l, i, all) => !(l === '' && i === all.length - 1));
      assert.equal(lines.length, 5, `exactly the events on stdout:\n${lines.join('\n')}`);
      const events = lines.map((l) => JSON.parse(l) as Event);
      const rows = events.filter((e) => e.table === 'notes');
      const sorted = (list: unknown[]) => list.map((x) => JSON.stringify(x)).sort();
      assert.deepEqual(
        sorted(rows.map((e) => [e.op, e.data, e.old])),
        sorted([
          ['INSERT', { id: 1, body: 'one' }, null],
          ['INSERT', { id: 2, body: 'line\nbreak and "quotes"' }, null],
          ['UPDATE', { id: 1, body: 'uno' }, { id: 1, body: 'one' }],
          ['DELETE', { id: 2, body: 'line\nbreak and "quotes"' }, { id: 2, body: 'line\nbreak and "quotes"' }],
        ]),
      );
      // Order per row is kept; compare per row.
      const byRow = (id: number) => rows.filter((e) => e.data?.id === id).map((e) => e.op);
      assert.deepEqual(byRow(1), ['INSERT', 'UPDATE']);
      assert.deepEqual(byRow(2), ['INSERT', 'DELETE']);
      const channel = events.find((e) => e.channel === 'jobs');
      assert.deepEqual(channel?.payload, { job: 7 });
      assert.equal(new Set(events.map((e) => e.id)).size, 5);
      // The logs went to stderr, and there were some (level debug).
      assert.ok(bridge.logLines.length > 3, 'logs on stderr');
      if (!pretty) for (const line of bridge.logLines.filter((l) => l !== '')) JSON.parse(line);
    });
  }

  test('a json value or a NOTIFY payload written over several lines still makes one line per event', async () => {
    await db.query(`CREATE TABLE docs (id int PRIMARY KEY, js json)`);
    const file = writeConfig({
      postgres: { url: db.url },
      instance: 'multiline',
      capture: [{ table: 'docs' }],
      channels: [{ name: 'jobs' }],
      sinks: [{ name: 'out', type: 'stdout' }],
      http: { port: 0 },
    });
    assert.equal((await cli(['install', '-c', file])).code, 0);
    const bridge = new RunningBridge(file);
    try {
      await waitFor(() => bridge.logLines.some((l) => l.includes('holding the delivery lock')), 15_000, 'the delivery lock');
      await new Promise((r) => setTimeout(r, 300));
      await db.query(`INSERT INTO docs VALUES (1, E'{"a":\n 1,\r\n"b":\t"x\\\\ny"}')`);
      await db.query(`NOTIFY jobs, E'{"job":\n 7}'`);
      await waitFor(() => bridge.stdoutLines.filter((l) => l !== '').length >= 2, 10_000, 'two lines on stdout');
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      assert.equal(await bridge.kill('SIGTERM'), 0, 'clean exit on SIGTERM');
    }
    const lines = bridge.stdoutLines.filter((l) => l !== '');
    assert.equal(lines.length, 2, `one line per event:\n${lines.join('\n')}`);
    const [row, channel] = lines.map((l) => JSON.parse(l) as Event);
    assert.deepEqual(row.data, { id: 1, js: { a: 1, b: 'x\ny' } });
    assert.deepEqual(channel.payload, { job: 7 });
  });
});
