/**
 * pgbridge under each workload: a fresh `pgbridge run` per scenario, the
 * events timed from the bench's commit stamps to the receiver's stamps.
 */
import { writeFileSync } from 'node:fs';
import { BridgeProcess, freePort, writeConfig } from './bridge.js';
import type { Receiver } from './receivers.js';
import { monoMs, summarize, type LatencySummary } from './stats.js';
import {
  walMark,
  dropSlot,
  freshSlot,
  INSTANCES,
  insertBurst,
  rowsPerSecond,
  slotConfirmed,
  steadyLoad,
  TABLES,
  WAL_PUBLICATION,
  type BenchDatabase,
  type Mode,
  type Written,
} from './workloads.js';

export interface SinkSetup {
  /** Short label for the table: "webhook batched", "amqp", … */
  readonly label: string;
  /** The sink's config, without name. */
  readonly config: Record<string, unknown>;
  /** Where its events land; undefined for stdout (its lines counted as the bench reads them from the bridge's stdout). */
  readonly receiver: Receiver | undefined;
}

export interface BenchContext {
  readonly db: BenchDatabase;
  readonly profileDir?: string;
  /** With --dump: a CSV per scenario (row id, commit ms, receive ms, latency ms) is written here. */
  readonly dumpFile?: string;
  readonly log: (line: string) => void;
}

export interface RunMeasurement {
  readonly events: number;
  readonly received: number;
  readonly duplicates: number;
  readonly seconds: number;
  readonly rate: number;
  readonly latency?: LatencySummary;
  readonly peakRssMb: number;
  readonly cpuPer10k: number;
  /** Drains: from spawn to the first event at the receiver. */
  readonly firstEventS?: number;
  /** Drains: first to last event at the receiver, i.e. the rate without the startup. */
  readonly rateAfterFirst?: number;
  /** Bursts: how long the inserts took (COMMIT of the first to COMMIT of the last transaction). */
  readonly insertS?: number;
  /** Bursts: rows inserted per second meanwhile. */
  readonly insertRate?: number;
  /** Bursts: last event at the receiver minus last COMMIT. */
  readonly tailS?: number;
  readonly outboxLeft: number;
  readonly warnings: number;
  readonly notes: string[];
  /** Drains: transactions committed in the database while pgbridge ran (its reads, progress writes). */
  readonly pgTransactions?: number;
}

const SINK_NAME = 'out';
const WAIT_MS = 180_000;

function bridgeConfig(db: BenchDatabase, mode: Mode, sink: SinkSetup, port: number): object {
  return {
    postgres: { url: db.url },
    delivery: mode,
    instance: INSTANCES[mode],
    ...(mode === 'wal' ? { wal: { slot: db.slots.bridge, publication: WAL_PUBLICATION } } : {}),
    capture: [{ table: `public.${TABLES[mode]}`, ops: ['insert'] }],
    // Short backoff cap so the outage scenario resumes within a second of the sink's return.
    sinks: [{ name: SINK_NAME, retry: { initial_ms: 100, max_ms: 1000 }, ...sink.config }],
    http: { port, host: '127.0.0.1' },
    log: { level: 'info' },
    shutdown_timeout_ms: 5000,
  };
}

export async function startBridge(ctx: BenchContext, mode: Mode, sink: SinkSetup): Promise<BridgeProcess> {
  const port = await freePort();
  return new BridgeProcess(writeConfig(bridgeConfig(ctx.db, mode, sink, port)), port, {
    profileDir: ctx.profileDir,
    countStdoutLines: sink.receiver === undefined,
  });
}

/** Ready to capture: the delivery lock held, and in wal mode the slot streaming. */
async function ready(bridge: BridgeProcess, mode: Mode): Promise<void> {
  await bridge.ready(mode === 'wal' ? 'streaming changes from the replication slot' : undefined);
}

/** Waits for `count` events at the receiver, or (stdout) for `count` lines read from the bridge's stdout. */
async function waitDelivered(
  bridge: BridgeProcess,
  sink: SinkSetup,
  count: number,
): Promise<{ count: number; duplicates: number; firstAt: number; lastAt: number; atFirst?: number }> {
  if (sink.receiver) return sink.receiver.wait(count, WAIT_MS);
  const arrivals = bridge.stdoutArrivals!;
  const deadline = monoMs() + WAIT_MS;
  while (arrivals.count < count && monoMs() < deadline) await new Promise((r) => setTimeout(r, 10));
  return { count: arrivals.count, duplicates: 0, firstAt: arrivals.firstAt, lastAt: arrivals.lastAt, atFirst: arrivals.atFirst };
}

async function latencies(ctx: BenchContext, sink: SinkSetup, written: Written): Promise<LatencySummary | undefined> {
  if (!sink.receiver) return undefined;
  const { ids, times } = await sink.receiver.collect();
  const values: number[] = [];
  const csv: string[] = ['row_id,commit_ms,receive_ms,latency_ms'];
  for (let i = 0; i < ids.length; i++) {
    const offset = ids[i] - written.firstId;
    if (offset < 0 || offset >= written.count) continue;
    values.push(times[i] - written.commitAt[offset]);
    if (ctx.dumpFile)
      csv.push(
        `${ids[i]},${(written.commitAt[offset] - written.startedAt).toFixed(3)},${(times[i] - written.startedAt).toFixed(3)},${(times[i] - written.commitAt[offset]).toFixed(3)}`,
      );
  }
  if (ctx.dumpFile) writeFileSync(ctx.dumpFile, csv.join('\n') + '\n');
  return summarize(values);
}

/** Transactions committed in the bench database (every autocommit query counts one). */
async function committedTransactions(ctx: BenchContext): Promise<number> {
  const { rows } = await ctx.db.query<{ xacts: string }>(
    'SELECT xact_commit::text AS xacts FROM pg_stat_database WHERE datname = current_database()',
  );
  return Number(rows[0].xacts);
}

/** Outbox rows left once the bridge had a moment to record its deliveries. */
async function outboxLeft(ctx: BenchContext, mode: Mode): Promise<number> {
  const table = `pgbridge.outbox_${INSTANCES[mode]}`;
  for (let i = 0; ; i++) {
    const { rows } = await ctx.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`);
    if (rows[0].n === 0 || i >= 100) return rows[0].n;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Stops the bridge and cleans up. In wal mode `walEnd` is the WAL position after
 * the scenario's last commit: the slot must be confirmed past it (the bridge
 * acknowledged every transaction it delivered), then the slot is dropped.
 */
async function finish(
  ctx: BenchContext,
  bridge: BridgeProcess,
  mode: Mode,
  notes: string[],
  walEnd?: string,
): Promise<{ outboxLeft: number; warnings: number }> {
  const left = await outboxLeft(ctx, mode);
  if (walEnd !== undefined) {
    let confirmed = false;
    for (let i = 0; i < 100 && !confirmed; i++) {
      confirmed = await slotConfirmed(ctx.db, ctx.db.slots.bridge, walEnd);
      if (!confirmed) await new Promise((r) => setTimeout(r, 50));
    }
    if (!confirmed) notes.push(`the slot was not confirmed past the last commit (${walEnd})`);
  }
  const code = await bridge.stop();
  if (code !== 0) notes.push(`pgbridge exited with ${code}`);
  const warnings = bridge.problems();
  if (warnings.length > 0) ctx.log(`    pgbridge logged ${warnings.length} warning(s); first: ${warnings[0].slice(0, 300)}`);
  if (mode === 'wal') await dropSlot(ctx.db, ctx.db.slots.bridge);
  await ctx.db.clean();
  return { outboxLeft: left, warnings: warnings.length };
}

/**
 * Bridge running (notify, or wal streaming): `count` rows in `txnRows`-row
 * transactions; insert start → last event at the receiver. `checkpoint`: a
 * CHECKPOINT first, as before the insert-rate ceilings, so that the inserts
 * write the same full-page images as theirs.
 */
export async function liveBurst(
  ctx: BenchContext,
  mode: Mode,
  sink: SinkSetup,
  count: number,
  txnRows: number,
  checkpoint = false,
): Promise<RunMeasurement> {
  await sink.receiver?.reset();
  if (mode === 'wal') await freshSlot(ctx.db, ctx.db.slots.bridge);
  const bridge = await startBridge(ctx, mode, sink);
  await ready(bridge, mode);
  if (checkpoint) await ctx.db.query('CHECKPOINT');
  const cpu0 = bridge.sample()?.cpuS ?? 0;
  const written = await insertBurst(ctx.db, TABLES[mode], count, txnRows);
  const walEnd = mode === 'wal' ? await walMark(ctx.db) : undefined;
  const got = await waitDelivered(bridge, sink, count);
  const cpu1 = bridge.sample()?.cpuS ?? 0;
  const peakRssMb = bridge.sample()?.hwmMb ?? Number.NaN;
  const seconds = ((got.count >= count ? got.lastAt : monoMs()) - written.startedAt) / 1000;
  const notes: string[] = [];
  if (got.count < count) notes.push(`only ${got.count} of ${count} arrived`);
  const latency = await latencies(ctx, sink, written);
  const end = await finish(ctx, bridge, mode, notes, walEnd);
  return {
    events: count,
    received: got.count,
    duplicates: got.duplicates,
    seconds,
    rate: got.count / seconds,
    latency,
    insertRate: rowsPerSecond(written),
    insertS: (written.endedAt - written.startedAt) / 1000,
    tailS: (got.lastAt - written.endedAt) / 1000,
    peakRssMb,
    cpuPer10k: ((cpu1 - cpu0) / Math.max(1, got.count)) * 10_000,
    ...end,
    notes,
  };
}

/**
 * A backlog drain: `count` rows committed while no bridge runs (waiting in the
 * outbox table, or in a slot made just before), then the bridge is spawned;
 * from spawn to the last event at the receiver, startup included. CPU is the
 * process's whole CPU time, startup included.
 */
export async function drain(ctx: BenchContext, mode: 'outbox' | 'wal', sink: SinkSetup, count: number, txnRows: number): Promise<RunMeasurement> {
  await sink.receiver?.reset();
  if (mode === 'wal') await freshSlot(ctx.db, ctx.db.slots.bridge);
  await insertBurst(ctx.db, TABLES[mode], count, txnRows);
  if (mode === 'outbox') await ctx.db.query(`VACUUM ANALYZE pgbridge.outbox_${INSTANCES.outbox}`);
  const walEnd = mode === 'wal' ? await walMark(ctx.db) : undefined;
  const before = await committedTransactions(ctx);
  const spawnedAt = monoMs();
  const bridge = await startBridge(ctx, mode, sink);
  const got = await waitDelivered(bridge, sink, count);
  const sample = bridge.sample();
  const seconds = ((got.count >= count ? got.lastAt : monoMs()) - spawnedAt) / 1000;
  const notes: string[] = [];
  if (got.count < count) notes.push(`only ${got.count} of ${count} arrived`);
  const end = await finish(ctx, bridge, mode, notes, walEnd);
  const after = await committedTransactions(ctx);
  return {
    pgTransactions: after - before,
    events: count,
    received: got.count,
    duplicates: got.duplicates,
    seconds,
    rate: got.count / seconds,
    peakRssMb: sample?.hwmMb ?? Number.NaN,
    cpuPer10k: ((sample?.cpuS ?? 0) / Math.max(1, got.count)) * 10_000,
    firstEventS: (got.firstAt - spawnedAt) / 1000,
    // The events after the first arrival's, over the time after it (a stdout read brings many at once).
    rateAfterFirst: (got.count - (got.atFirst ?? 1)) / ((got.lastAt - got.firstAt) / 1000),
    ...end,
    notes,
  };
}

/** Open-loop `rate` events/s in `txnRows`-row transactions for `seconds`, bridge running. */
export async function steady(
  ctx: BenchContext,
  mode: Mode,
  sink: SinkSetup,
  rate: number,
  txnRows: number,
  seconds: number,
  warmS: number,
): Promise<RunMeasurement & { achievedInsertRate: number; warmup?: LatencySummary }> {
  await sink.receiver?.reset();
  if (mode === 'wal') await freshSlot(ctx.db, ctx.db.slots.bridge);
  const bridge = await startBridge(ctx, mode, sink);
  await ready(bridge, mode);
  // A freshly started Node process runs cold (lazy compilation, first connections): the same
  // rate for `warmS` first, reported apart, so the measured window is the steady state.
  let warmup: LatencySummary | undefined;
  if (warmS > 0) {
    const warm = await steadyLoad(ctx.db, TABLES[mode], rate, txnRows, warmS);
    await waitDelivered(bridge, sink, warm.count);
    warmup = await latencies({ ...ctx, dumpFile: undefined }, sink, warm);
    await sink.receiver?.reset();
  }
  const delivered0 = bridge.stdoutArrivals?.count ?? 0;
  const cpu0 = bridge.sample()?.cpuS ?? 0;
  const written = await steadyLoad(ctx.db, TABLES[mode], rate, txnRows, seconds);
  // A stdout sink's line count includes the warm-up's events: this window's are the rest.
  const total = await waitDelivered(bridge, sink, written.count + delivered0);
  const got = { ...total, count: total.count - delivered0 };
  const cpu1 = bridge.sample()?.cpuS ?? 0;
  const peakRssMb = bridge.sample()?.hwmMb ?? Number.NaN;
  const notes: string[] = [];
  if (written.lagMs > 50) notes.push(`load generator fell ${written.lagMs.toFixed(0)} ms behind schedule`);
  if (got.count < written.count) notes.push(`only ${got.count} of ${written.count} arrived`);
  const elapsed = ((got.count >= written.count ? got.lastAt : monoMs()) - written.startedAt) / 1000;
  const latency = await latencies(ctx, sink, written);
  const end = await finish(ctx, bridge, mode, notes, mode === 'wal' ? await walMark(ctx.db) : undefined);
  return {
    events: written.count,
    received: got.count,
    duplicates: got.duplicates,
    seconds: elapsed,
    rate: got.count / elapsed,
    latency,
    peakRssMb,
    cpuPer10k: ((cpu1 - cpu0) / Math.max(1, got.count)) * 10_000,
    achievedInsertRate: written.achievedRate,
    warmup,
    ...end,
    notes,
  };
}

export interface OutageMeasurement {
  readonly outageS: number;
  readonly rate: number;
  readonly backlog: number;
  readonly rssBeforeMb: number;
  readonly rssPeakDuringMb: number;
  readonly rssEndOfOutageMb: number;
  readonly rssAfterMb: number;
  readonly recoverS: number;
  readonly received: number;
  readonly events: number;
  readonly outboxLeft: number;
  readonly notes: string[];
}

/**
 * Outbox mode, webhook sink: a warm-up at `rate`, then the receiver goes away
 * (connections refused) for `outageS` while the writes go on, then comes back;
 * RSS before, during (peak) and after the backlog drained.
 */
export async function outage(ctx: BenchContext, sink: SinkSetup, rate: number, warmS: number, outageS: number): Promise<OutageMeasurement> {
  const receiver = sink.receiver!;
  await receiver.reset();
  const bridge = await startBridge(ctx, 'outbox', sink);
  await bridge.ready();
  const warm = await steadyLoad(ctx.db, TABLES.outbox, rate, 1, warmS);
  await receiver.wait(warm.count, WAIT_MS);
  await new Promise((r) => setTimeout(r, 500));
  const rssBeforeMb = bridge.sample()?.rssMb ?? Number.NaN;
  await receiver.down();
  bridge.resetPeak();
  const during = await steadyLoad(ctx.db, TABLES.outbox, rate, 1, outageS);
  const rssPeakDuringMb = bridge.peakRssMb();
  const rssEndOfOutageMb = bridge.sample()?.rssMb ?? Number.NaN;
  await receiver.up();
  const upAt = monoMs();
  const total = warm.count + during.count;
  const got = await receiver.wait(total, WAIT_MS);
  const recoverS = ((got.count >= total ? got.lastAt : monoMs()) - upAt) / 1000;
  await new Promise((r) => setTimeout(r, 1000));
  const rssAfterMb = bridge.sample()?.rssMb ?? Number.NaN;
  const notes: string[] = [];
  if (got.count < total) notes.push(`only ${got.count} of ${total} arrived`);
  const end = await finish(ctx, bridge, 'outbox', notes);
  return {
    outageS,
    rate,
    backlog: during.count,
    rssBeforeMb,
    rssPeakDuringMb,
    rssEndOfOutageMb,
    rssAfterMb,
    recoverS,
    received: got.count,
    events: total,
    outboxLeft: end.outboxLeft,
    notes,
  };
}
