/**
 * A 2-million-row transaction streams through: pgoutput sends it at commit,
 * the bridge decodes and hands it on with backpressure (the socket is paused
 * while the sink's runner is full), so the bridge's peak RSS stays bounded.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { RunningBridge, waitFor, writeConfig } from '../support/bridge.js';
import { createTestDatabase, type TestDatabase } from '../support/pg.js';
import { endWalTest, installedAndStreaming, slotName } from '../support/wal.js';

const ROWS = Number(process.env.PGBRIDGE_WAL_BIG_ROWS ?? 2_000_000);
const RSS_LIMIT_MB = 300;

/** Peak resident set size of a process (VmHWM), in MB. */
function peakRssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

describe('wal mode: one huge transaction', () => {
  let db: TestDatabase;
  let bridge: RunningBridge | undefined;

  before(async () => {
    db = await createTestDatabase('pgbridge_walbig');
    await db.query(`CREATE TABLE big (id int PRIMARY KEY, payload text, at timestamptz DEFAULT now())`);
  });

  after(async () => {
    await endWalTest(db, bridge);
  });

  test(`${ROWS} rows in one transaction: every event arrives, peak RSS under ${RSS_LIMIT_MB} MB`, { timeout: 900_000 }, async (t) => {
    const file = writeConfig({
      postgres: { url: db.url },
      delivery: 'wal',
      wal: { slot: slotName(db) },
      capture: [{ table: 'big' }],
      sinks: [{ name: 'out', type: 'stdout' }],
      http: { port: 0 },
    });
    bridge = await installedAndStreaming(file);
    const baseline = peakRssMb(bridge.pid);
    const started = Date.now();
    await db.query(`INSERT INTO big (id, payload) SELECT g, md5(g::text) FROM generate_series(1, ${ROWS}) g`);
    const committed = Date.now();
    // Count and drop lines as they come, so the test itself holds no 2 million strings.
    let seen = 0;
    let last = '';
    await waitFor(
      () => {
        const lines = bridge!.stdoutLines.splice(0);
        for (const line of lines) {
          if (!line) continue;
          seen++;
          last = line;
        }
        return seen >= ROWS;
      },
      840_000,
      `${ROWS} events`,
    );
    const done = Date.now();
    const peak = peakRssMb(bridge.pid);
    const warnings = bridge.logs().filter((e) => (e.level as number) >= 40);
    assert.deepEqual(warnings, [], 'no warnings');
    assert.equal(seen, ROWS);
    assert.equal((JSON.parse(last) as { data: { id: number } }).data.id, ROWS, 'in commit order, the last row last');
    t.diagnostic(
      `rows=${ROWS} insert_s=${((committed - started) / 1000).toFixed(1)} stream_s=${((done - committed) / 1000).toFixed(1)} ` +
        `events_per_s=${Math.round(ROWS / ((done - committed) / 1000))} rss_baseline_mb=${baseline.toFixed(0)} rss_peak_mb=${peak.toFixed(0)}`,
    );
    assert.ok(peak < RSS_LIMIT_MB, `peak RSS ${peak.toFixed(0)} MB`);
  });
});
