/**
 * wal mode against its ceilings, in one run (`npm run bench:wal`):
 * - insert rate of 500-row transactions into a table in the wal publication,
 *   with a bridge streaming it, against the same table shape with no capture;
 * - drain: rows committed while no bridge runs, then `pgbridge run` → stdout,
 *   against a bare replication consumer that only decodes pgoutput (same WAL,
 *   its own slot), and against outbox mode → stdout.
 */
import { BridgeProcess, writeConfig, pgbridgeCli } from './bridge.js';
import { createBenchDatabase, insertBurst, INSTANCES, rowsPerSecond, TABLES, type BenchDatabase } from './workloads.js';
import { monoMs, median, percentile } from './stats.js';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { decodePgOutput } from '../src/source/wal/pgoutput.js';
import { ReplicationStream } from '../src/source/wal/replication-stream.js';

const quick = process.argv.includes('--quick');
// 'drain' in the table: from the bridge streaming (or holding the lock) until the last event is delivered and acknowledged.
const INSERT_ROWS = quick ? 20_000 : 50_000;
const DRAIN_ROWS = quick ? 20_000 : 100_000;
const TXN_ROWS = 500;
const step = (what: string) => process.stderr.write(`bench:wal ${what}\n`);
const REPEATS = quick ? 1 : 3;
const WAL_TABLE = 'bench_wal';

/**
 * Commit → webhook latency at `rate` rows/s (10-row transactions, open loop)
 * for `seconds`: the writer stamps each row after its COMMIT returns, the
 * webhook (in this process, answering 204 at once) when its request arrives.
 */
async function webhookLatency(
  db: BenchDatabase,
  slot: string,
  publication: string,
  rate: number,
  seconds: number,
): Promise<{ p50: number; p99: number; max: number; warmUpP99: number; received: number; sent: number }> {
  const arrived = new Map<number, number>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const at = monoMs();
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Array<{ data: { id: number } }> | { data: { id: number } };
      for (const e of [body].flat()) if (!arrived.has(e.data.id)) arrived.set(e.data.id, at);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  const file = writeConfig({
    postgres: { url: db.url },
    delivery: 'wal',
    instance: 'bench_wal',
    wal: { slot, publication },
    capture: [{ table: `public.${WAL_TABLE}`, ops: ['insert'] }],
    // Batched as bench/run.ts's 'webhook batched' (max_wait_ms 0: a batch is what is queued, never a wait).
    sinks: [{ name: 'hook', type: 'webhook', url, batch: { max_events: 500, max_wait_ms: 0 } }],
    http: { port: 0 },
    log: { level: 'info' },
  });
  const bridge = new BridgeProcess(file, 0);
  const writer = new pg.Client(db.url);
  await writer.connect();
  try {
    while (!bridge.logLines.some((l) => l.includes('streaming changes'))) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 1000));
    const committed = new Map<number, number>();
    const txRows = 10;
    const interval = (1000 * txRows) / rate;
    const first = db.nextIds(rate * seconds);
    const started = monoMs();
    for (let k = 0; k < (rate * seconds) / txRows; k++) {
      const due = started + k * interval;
      const wait = due - monoMs();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const a = first + k * txRows;
      await writer.query(
        `INSERT INTO public.${WAL_TABLE} (id, account, status, amount, note) SELECT g, g % 1000, 'new', 1.5, 'latency row' FROM generate_series($1::bigint, $2::bigint) g`,
        [a, a + txRows - 1],
      );
      const at = monoMs();
      for (let id = a; id < a + txRows; id++) committed.set(id, at);
    }
    const deadline = monoMs() + 30_000;
    while (arrived.size < committed.size && monoMs() < deadline) await new Promise((r) => setTimeout(r, 50));
    // The first 2 s are a warm-up (first Relation message's catalog reads, the sink's first connection), reported apart.
    const warm = started + 2000;
    const latency = (after: boolean) =>
      [...committed].flatMap(([id, at]) => (arrived.has(id) && at >= warm === after ? [arrived.get(id)! - at] : []));
    const measured = latency(true);
    const warmUp = latency(false);
    return {
      p50: percentile(measured, 50),
      p99: percentile(measured, 99),
      max: Math.max(...measured),
      warmUpP99: percentile(warmUp, 99),
      received: measured.length + warmUp.length,
      sent: committed.size,
    };
  } finally {
    await writer.end();
    await bridge.stop();
    server.closeAllConnections();
    server.close();
  }
}

/**
 * `pgbridge run` with stdout to /dev/null (as bench/run.ts does): events per
 * second from the log line `startedBy` until `done()` holds (the slot confirmed
 * past the last commit, or the outbox empty: delivered and acknowledged).
 */
async function drainRate(file: string, count: number, startedBy: string, done: () => Promise<boolean>): Promise<number> {
  const bridge = new BridgeProcess(file, 0, { profileDir: process.env.BENCH_WAL_PROFILE });
  try {
    while (!bridge.logLines.some((l) => l.includes(startedBy))) await new Promise((r) => setTimeout(r, 5));
    const started = monoMs();
    while (!(await done())) await new Promise((r) => setTimeout(r, 20));
    return count / ((monoMs() - started) / 1000);
  } finally {
    await bridge.stop();
  }
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
      log: { level: 'info' },
    });
    pgbridgeCli(['install', '-c', walConfig]);

    step('insert rates');
    // Insert rate: no capture vs wal capture with a bridge streaming (the walsender decodes on the same cores).
    const plain: number[] = [];
    const wal: number[] = [];
    const streaming = new BridgeProcess(walConfig, 0);
    while (!streaming.logLines.some((l) => l.includes('streaming changes'))) await new Promise((r) => setTimeout(r, 20));
    for (let i = 0; i < REPEATS; i++) {
      plain.push(rowsPerSecond(await insertBurst(db, TABLES.plain, INSERT_ROWS, TXN_ROWS)));
      wal.push(rowsPerSecond(await insertBurst(db, WAL_TABLE, INSERT_ROWS, TXN_ROWS)));
    }
    await streaming.stop();
    await db.query(`TRUNCATE public.${WAL_TABLE}`);

    step('drain: bare consumer, then wal');
    // Drain: the same committed WAL read by the bare consumer (its own slot) and by pgbridge.
    await db.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [bareSlot]);
    await new Promise((r) => setTimeout(r, 1000));
    await insertBurst(db, WAL_TABLE, DRAIN_ROWS, TXN_ROWS);
    const bare = await bareConsumer(db, bareSlot, publication, DRAIN_ROWS);
    step('drain: wal');
    const walTarget = (await db.query<{ lsn: string }>(`SELECT pg_current_wal_lsn()::text AS lsn`)).rows[0].lsn;
    const walDrain = await drainRate(walConfig, DRAIN_ROWS, 'streaming changes', async () => {
      const { rows } = await db.query<{ done: boolean }>(
        `SELECT confirmed_flush_lsn >= $1::pg_lsn AS done FROM pg_replication_slots WHERE slot_name = $2`,
        [walTarget, slot],
      );
      return rows[0]?.done === true;
    });

    step('drain: outbox');
    // The same drain in outbox mode (events waiting in its outbox table).
    const outboxConfig = writeConfig({
      postgres: { url: db.url },
      delivery: 'outbox',
      instance: INSTANCES.outbox,
      capture: [{ table: `public.${TABLES.outbox}`, ops: ['insert'] }],
      sinks: [{ name: 'out', type: 'stdout' }],
      http: { port: 0 },
      log: { level: 'info' },
    });
    await insertBurst(db, TABLES.outbox, DRAIN_ROWS, TXN_ROWS);
    const outboxRate = await drainRate(outboxConfig, DRAIN_ROWS, 'holding the delivery lock', async () => {
      const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM pgbridge.outbox_${INSTANCES.outbox}`);
      return rows[0].n === 0;
    });

    step('latency: commit → webhook at 1,000 rows/s');
    const latency = await webhookLatency(db, slot, publication, 1000, quick ? 7 : 15);

    const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
    const ratio = median(wal) / median(plain);
    const rows = [
      ['insert rate, 500-row transactions, no capture', `${fmt(median(plain))} rows/s`, ''],
      [
        'insert rate, wal capture (bridge streaming)',
        `${fmt(median(wal))} rows/s`,
        `${ratio.toFixed(2)} of no capture (target ≥ 0.9: ${ratio >= 0.9 ? 'met' : 'NOT MET'})`,
      ],
      ['drain, bare pgoutput consumer (decode only)', `${fmt(bare)} ev/s`, ''],
      [
        'drain, wal → stdout',
        `${fmt(walDrain)} ev/s`,
        `${(walDrain / bare).toFixed(2)} of bare (target ≥ 0.7: ${walDrain / bare >= 0.7 ? 'met' : 'NOT MET'})`,
      ],
      ['drain, outbox → stdout', `${fmt(outboxRate)} ev/s`, `wal is ${(walDrain / outboxRate).toFixed(2)}× outbox`],
      [
        'commit → webhook batched, 1,000 rows/s (10-row transactions)',
        `p50 ${latency.p50.toFixed(1)} ms, p99 ${latency.p99.toFixed(1)} ms, max ${latency.max.toFixed(1)} ms`,
        `after a 2 s warm-up (its p99 ${latency.warmUpP99.toFixed(1)} ms); ${latency.received}/${latency.sent} received (target p99 ≤ 25 ms: ${latency.p99 <= 25 ? 'met' : 'NOT MET'})`,
      ],
    ];
    process.stdout.write(`| wal mode (${INSERT_ROWS} inserted ×${REPEATS}, ${DRAIN_ROWS} drained) | rate | ratio |\n|---|---|---|\n`);
    for (const r of rows) process.stdout.write(`| ${r.join(' | ')} |\n`);
  } finally {
    for (const bridge of BridgeProcess.live) await bridge.stop();
    await db
      .query(`SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE database = current_database() AND active_pid IS NOT NULL`)
      .catch(() => {});
    await new Promise((r) => setTimeout(r, 500));
    await db.query(`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = current_database()`).catch(() => {});
    await db.drop();
  }
}

await main();
