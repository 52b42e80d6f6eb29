/**
 * Backfill throughput: a 1,000,000-row table backfilled (`pgbridge backfill`)
 * into the stdout sink of a running bridge, while other writers insert into
 * another captured table. Prints the backfill's rate (rows committed as READ
 * events per second), the end-to-end rate (first chunk to the last READ on the
 * bridge's stdout), and the writers' insert rate before and during.
 *
 *   npm run bench:backfill [-- --rows N] [--chunk N] [--batch N (outbox.batch_size)] [--rate R (backfill --rate)] [--json]
 */
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { BIN, freePort, pgbridgeCli, ROOT, writeConfig } from './bridge.js';

const ADMIN = process.env.PGBRIDGE_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '1000000' },
    json: { type: 'boolean' },
    chunk: { type: 'string', default: '5000' },
    batch: { type: 'string', default: '500' },
    rate: { type: 'string' },
  },
});
const ROWS = Number(values.rows);
const WRITERS = 2;
const BASELINE_S = 10;

async function main(): Promise<void> {
  const name = `pgbridge_bench_backfill_${process.pid}`;
  const admin = new pg.Client(ADMIN);
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const url = ADMIN.replace(/\/[^/?]*(\?|$)/, `/${name}$1`);
  const db = new pg.Pool({ connectionString: url, max: WRITERS + 2 });
  let bridge: ReturnType<typeof spawn> | undefined;
  try {
    await db.query('CREATE TABLE accounts (id bigint PRIMARY KEY, owner text NOT NULL, balance numeric(12,2) NOT NULL, opened timestamptz NOT NULL)');
    await db.query(
      `INSERT INTO accounts SELECT i, 'owner ' || i, (i % 10000) / 100.0, '2026-01-01'::timestamptz + i * interval '1 second' FROM generate_series(1, ${ROWS}) i`,
    );
    await db.query('VACUUM ANALYZE accounts');
    await db.query('CREATE TABLE activity (id bigserial PRIMARY KEY, note text NOT NULL)');
    const file = writeConfig({
      postgres: { url },
      capture: [{ table: 'accounts' }, { table: 'activity', ops: ['insert'] }],
      sinks: [{ name: 'out', type: 'stdout' }],
      outbox: { batch_size: Number(values.batch) },
      http: { port: await freePort(), host: '127.0.0.1' },
      log: { level: 'warn' },
    });
    pgbridgeCli(['install', '-c', file]);

    let reads = 0;
    let lastReadAt = 0;
    bridge = spawn(process.execPath, [BIN, 'run', '-c', file], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let rest = '';
    bridge.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      const lines = (rest + chunk).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) {
        if (line.includes('"op":"READ"')) {
          reads++;
          lastReadAt = performance.now();
        }
      }
    });
    await new Promise((r) => setTimeout(r, 2000));

    // Other writers: 10-row insert transactions, as fast as they go, counted per phase.
    let inserted = 0;
    let writing = true;
    const writer = async () => {
      const c = await db.connect();
      try {
        while (writing) {
          await c.query(`INSERT INTO activity (note) SELECT 'live ' || g FROM generate_series(1, 10) g`);
          inserted += 10;
        }
      } finally {
        c.release();
      }
    };
    const writers = Array.from({ length: WRITERS }, writer);
    await new Promise((r) => setTimeout(r, 1000));
    const baseStart = inserted;
    await new Promise((r) => setTimeout(r, BASELINE_S * 1000));
    const baseline = (inserted - baseStart) / BASELINE_S;

    const started = performance.now();
    const duringStart = inserted;
    const code = await new Promise<number | null>((resolve) => {
      const rate = values.rate === undefined ? [] : ['--rate', values.rate];
      const child = spawn(process.execPath, [BIN, 'backfill', '-c', file, 'accounts', '--chunk', String(values.chunk), ...rate], {
        cwd: ROOT,
        stdio: ['ignore', 'ignore', 'ignore'],
      });
      child.on('exit', resolve);
    });
    const backfillS = (performance.now() - started) / 1000;
    const during = (inserted - duringStart) / backfillS;
    writing = false;
    await Promise.all(writers);
    if (code !== 0) throw new Error(`backfill exited ${code}`);
    const deadline = Date.now() + 300_000;
    while (reads < ROWS && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const endToEndS = (lastReadAt - started) / 1000;
    const result = {
      rows: ROWS,
      reads_at_stdout: reads,
      backfill_s: Number(backfillS.toFixed(2)),
      backfill_rows_per_s: Math.round(ROWS / backfillS),
      end_to_end_s: Number(endToEndS.toFixed(2)),
      end_to_end_rows_per_s: Math.round(reads / endToEndS),
      live_inserts_per_s_before: Math.round(baseline),
      live_inserts_per_s_during: Math.round(during),
      live_ratio: Number((during / baseline).toFixed(2)),
    };
    if (values.json) process.stdout.write(`${JSON.stringify(result)}\n`);
    else {
      process.stdout.write(
        `backfill of ${ROWS.toLocaleString('en-US')} rows into stdout: ${result.backfill_rows_per_s.toLocaleString('en-US')} rows/s committed (${result.backfill_s} s), ` +
          `${result.end_to_end_rows_per_s.toLocaleString('en-US')} rows/s delivered end to end (${result.end_to_end_s} s, ${reads.toLocaleString('en-US')} READs)\n` +
          `live inserts of ${WRITERS} other writers: ${result.live_inserts_per_s_before}/s before, ${result.live_inserts_per_s_during}/s during (${result.live_ratio} of before)\n`,
      );
    }
  } finally {
    bridge?.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 1000));
    await db.end();
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  }
}

await main();
