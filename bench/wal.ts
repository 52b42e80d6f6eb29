/**
 * wal mode against its ceilings, in one run (`npm run bench:wal`):
 * - insert rate of 500-row transactions into a table in the wal publication,
 *   with a bridge streaming it, against the same table shape with no capture;
 * - drain: rows committed while no bridge runs, then `pgbridge run` → stdout,
 *   against a bare replication consumer that only decodes pgoutput (same WAL,
 *   its own slot), and against outbox mode → stdout.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { BIN, ROOT, writeConfig, pgbridgeCli } from './bridge.js';
import { createBenchDatabase, insertBurst, INSTANCES, rowsPerSecond, TABLES, type BenchDatabase } from './workloads.js';
import { monoMs, median } from './stats.js';
import { decodePgOutput } from '../src/source/wal/pgoutput.js';
import { ReplicationStream } from '../src/source/wal/replication-stream.js';

const quick = process.argv.includes('--quick');
const INSERT_ROWS = quick ? 20_000 : 50_000;
const DRAIN_ROWS = quick ? 20_000 : 100_000;
const TXN_ROWS = 500;
const step = (what: string) => process.stderr.write(`bench:wal ${what}\n`);
const REPEATS = quick ? 1 : 3;
const WAL_TABLE = 'bench_wal';

/** `pgbridge run` with stdout counted (not kept): resolves when `count` event lines arrived, with the time from the first. */
function runCounting(file: string, count: number): { done: Promise<{ seconds: number; streamingAt: number }>; child: ChildProcess } {
  const child = spawn(process.execPath, [BIN, 'run', '-c', file], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let lines = 0;
  let first = 0;
  let streamingAt = 0;
  child.stderr!.on('data', (chunk: Buffer) => {
    if (streamingAt === 0 && /streaming changes|holding the delivery lock/.test(chunk.toString())) streamingAt = monoMs();
  });
  const done = new Promise<{ seconds: number; streamingAt: number }>((resolve, reject) => {
    child.on('exit', (code) => reject(new Error(`pgbridge exited ${code}`)));
    child.stdout!.on('data', (chunk: Buffer) => {
      if (first === 0) first = monoMs();
      for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, i + 1)) lines++;
      if (lines >= count) resolve({ seconds: (monoMs() - first) / 1000, streamingAt });
    });
  });
  done.catch(() => {});
  return { done, child };
}

async function stop(child: ChildProcess): Promise<void> {
  child.removeAllListeners('exit');
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

/** Decodes the slot's changes and counts inserts; the ceiling of any pgoutput consumer on this machine. */
async function bareConsumer(db: BenchDatabase, slot: string, publication: string, count: number): Promise<number> {
  let inserts = 0;
  let first = 0;
  let last = 0n;
  let resolveDone: () => void = () => {};
  const done = new Promise<void>((r) => (resolveDone = r));
  const stream = new ReplicationStream(
    { connectionString: db.url },
    {
      onData: (walStart, body) => {
        if (first === 0) first = monoMs();
        const msg = decodePgOutput(body);
        if (msg.tag === 'insert') inserts++;
        if (msg.tag === 'commit') last = msg.endLsn;
        if (inserts >= count) resolveDone();
      },
      onKeepalive: (walEnd, reply) => reply && stream.sendStatus(walEnd, last),
    },
  );
  await stream.start(slot, publication);
  await done;
  const seconds = (monoMs() - first) / 1000;
  stream.sendStatus(last, last);
  await stream.close();
  return count / seconds;
}

async function main(): Promise<void> {
  const db = await createBenchDatabase();
  const slot = `${db.name}_wal`.slice(0, 63);
  const bareSlot = `${db.name}_bare`.slice(0, 63);
  const publication = 'bench_wal_pub';
  const children: ChildProcess[] = [];
  try {
    await db.query(`CREATE TABLE public.${WAL_TABLE} (LIKE public.${TABLES.plain} INCLUDING ALL)`);
    const walConfig = writeConfig({
      postgres: { url: db.url },
      delivery: 'wal',
      instance: 'bench_wal',
      wal: { slot, publication },
      capture: [{ table: `public.${WAL_TABLE}`, ops: ['insert'] }],
      sinks: [{ name: 'out', type: 'stdout' }],
      http: { port: 0 },
      log: { level: 'warn' },
    });
    pgbridgeCli(['install', '-c', walConfig]);

    step('insert rates');
    // Insert rate: no capture vs wal capture with a bridge streaming (the walsender decodes on the same cores).
    const plain: number[] = [];
    const wal: number[] = [];
    const streaming = runCounting(walConfig, Number.MAX_SAFE_INTEGER);
    children.push(streaming.child);
    await new Promise((r) => setTimeout(r, 2000));
    for (let i = 0; i < REPEATS; i++) {
      plain.push(rowsPerSecond(await insertBurst(db, TABLES.plain, INSERT_ROWS, TXN_ROWS)));
      wal.push(rowsPerSecond(await insertBurst(db, WAL_TABLE, INSERT_ROWS, TXN_ROWS)));
    }
    await stop(streaming.child);
    await db.query(`TRUNCATE public.${WAL_TABLE}`);

    step('drain: bare consumer, then wal');
    // Drain: the same committed WAL read by the bare consumer (its own slot) and by pgbridge.
    await db.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [bareSlot]);
    await new Promise((r) => setTimeout(r, 1000));
    await insertBurst(db, WAL_TABLE, DRAIN_ROWS, TXN_ROWS);
    const bare = await bareConsumer(db, bareSlot, publication, DRAIN_ROWS);
    step('drain: wal');
    const drain = runCounting(walConfig, DRAIN_ROWS);
    children.push(drain.child);
    const walDrain = DRAIN_ROWS / (await drain.done).seconds;
    await stop(drain.child);

    step('drain: outbox');
    // The same drain in outbox mode (events waiting in its outbox table).
    const outboxConfig = writeConfig({
      postgres: { url: db.url },
      delivery: 'outbox',
      instance: INSTANCES.outbox,
      capture: [{ table: `public.${TABLES.outbox}`, ops: ['insert'] }],
      sinks: [{ name: 'out', type: 'stdout' }],
      http: { port: 0 },
      log: { level: 'warn' },
    });
    await insertBurst(db, TABLES.outbox, DRAIN_ROWS, TXN_ROWS);
    const outboxDrain = runCounting(outboxConfig, DRAIN_ROWS);
    children.push(outboxDrain.child);
    const outboxRate = DRAIN_ROWS / (await outboxDrain.done).seconds;
    await stop(outboxDrain.child);

    const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
    const ratio = median(wal) / median(plain);
    const rows = [
      ['insert rate, 500-row transactions, no capture', `${fmt(median(plain))} rows/s`, ''],
      ['insert rate, wal capture (bridge streaming)', `${fmt(median(wal))} rows/s`, `${ratio.toFixed(2)} of no capture (target ≥ 0.9: ${ratio >= 0.9 ? 'met' : 'NOT MET'})`],
      ['drain, bare pgoutput consumer (decode only)', `${fmt(bare)} ev/s`, ''],
      ['drain, wal → stdout', `${fmt(walDrain)} ev/s`, `${(walDrain / bare).toFixed(2)} of bare (target ≥ 0.7: ${walDrain / bare >= 0.7 ? 'met' : 'NOT MET'})`],
      ['drain, outbox → stdout', `${fmt(outboxRate)} ev/s`, `wal is ${(walDrain / outboxRate).toFixed(2)}× outbox`],
    ];
    process.stdout.write(`| wal mode (${INSERT_ROWS} inserted ×${REPEATS}, ${DRAIN_ROWS} drained) | rate | ratio |\n|---|---|---|\n`);
    for (const r of rows) process.stdout.write(`| ${r.join(' | ')} |\n`);
  } finally {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    await db.query(`SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE database = current_database() AND active_pid IS NOT NULL`).catch(() => {});
    await new Promise((r) => setTimeout(r, 500));
    await db.query(`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = current_database()`).catch(() => {});
    await db.drop();
  }
}

await main();
