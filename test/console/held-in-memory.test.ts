/**
 * In wal and notify mode a failing sink's events wait in pgbridge's memory,
 * not in the outbox table: `status`, /api/status and the oldest-pending gauge
 * (which the shipped alert reads) count them too, with their age. Past notify
 * mode's memory limit they wait in the table, and those read back into memory
 * are counted once.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, describe, test } from 'node:test';
import { cli, RunningBridge, waitFor, writeConfig } from '../support/bridge.js';
import { createTestDatabase, type TestDatabase } from '../support/pg.js';
import { freePort } from '../support/tcp.js';
import { dropSlots, slotName } from '../support/wal.js';

const ROWS = 40;
/** notify mode with a memory limit below its rows: most events wait in the outbox table, some read back into memory. */
const SPILLING = { rows: 400, limit: 100 };

interface SinkLine {
  name: string;
  state: string;
  backlog: number | null;
  oldest_pending_seconds: number | null;
}

const cases = [
  { delivery: 'wal', rows: ROWS, limit: undefined },
  { delivery: 'notify', rows: ROWS, limit: undefined },
  { delivery: 'notify', rows: SPILLING.rows, limit: SPILLING.limit },
] as const;

for (const { delivery, rows, limit } of cases) {
  describe(`${delivery} mode, a webhook answering 500${limit ? `, memory limit ${limit}` : ''}`, () => {
    let db: TestDatabase;
    let bridge: RunningBridge;
    let server: http.Server;
    let config: string;
    let base: string;
    let refused = 0;

    after(async () => {
      await bridge?.kill('SIGTERM');
      server?.closeAllConnections();
      server?.close();
      if (db) await dropSlots(db);
      await db?.drop();
    });

    test(`${rows} events refused: backlog ${rows}, their age, and the gauge`, async () => {
      db = await createTestDatabase();
      await db.query('CREATE TABLE items (id bigint PRIMARY KEY, note text)');
      server = http.createServer((req, res) => {
        req.resume();
        req.on('end', () => {
          refused++;
          res.writeHead(500).end('down');
        });
      });
      const hookPort = await freePort();
      await new Promise<void>((resolve) => server.listen(hookPort, '127.0.0.1', resolve));
      const port = await freePort();
      base = `http://127.0.0.1:${port}`;
      config = writeConfig({
        postgres: { url: db.url },
        delivery,
        ...(delivery === 'wal' ? { wal: { slot: slotName(db) } } : {}),
        ...(limit ? { notify: { memory_limit_events: limit } } : {}),
        capture: [{ table: 'items' }],
        sinks: [{ name: 'hook', type: 'webhook', url: `http://127.0.0.1:${hookPort}/`, retry: { initial_ms: 100, max_ms: 300, max_attempts: 0 } }],
        http: { port, host: '127.0.0.1' },
        shutdown_timeout_ms: 1000,
      });
      assert.equal((await cli(['install', '-c', config])).code, 0);
      bridge = new RunningBridge(config);
      await bridge.ready();
      const insertedAt = Date.now();
      await db.query(`INSERT INTO items SELECT g, 'n' || g FROM generate_series(1, ${rows}) g`);
      await waitFor(() => refused >= 2, 10_000, 'the webhook refusing');
      if (limit)
        await waitFor(
          () => bridge.logs().some((e) => String(e.msg).includes('memory limit of events waiting for this sink reached')),
          10_000,
          'the spill',
        );
      await new Promise((r) => setTimeout(r, 1500));

      const report = (await (await fetch(`${base}/api/status`)).json()) as { sinks: SinkLine[] };
      const hook = report.sinks.find((s) => s.name === 'hook')!;
      assert.equal(hook.state, 'retrying');
      assert.equal(hook.backlog, rows, JSON.stringify(hook));
      const age = (Date.now() - insertedAt) / 1000;
      assert.ok(
        hook.oldest_pending_seconds !== null && hook.oldest_pending_seconds >= 1.4 && hook.oldest_pending_seconds <= age + 1,
        JSON.stringify(hook),
      );

      const cliReport = await cli(['status', '-c', config, '--json']);
      assert.equal(cliReport.code, 1, cliReport.stderr);
      const fromCli = (JSON.parse(cliReport.stdout) as { sinks: SinkLine[] }).sinks.find((s) => s.name === 'hook')!;
      assert.equal(fromCli.backlog, rows);

      // The gauge is sampled every 5 s.
      await waitFor(
        async () => {
          const text = await (await fetch(`${base}/metrics`)).text();
          const value = Number(/^pgbridge_oldest_pending_seconds\{sink="hook"\} (\S+)$/m.exec(text)?.[1] ?? 0);
          return value >= 1;
        },
        12_000,
        'pgbridge_oldest_pending_seconds{sink="hook"} at the age of the oldest held event',
      );
    });
  });
}
