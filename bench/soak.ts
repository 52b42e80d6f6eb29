/**
 * `npm run bench -- --soak MINUTES`: whether the outbox stays small and fast
 * however long it runs. Outbox mode, single-event webhook, 10-row
 * transactions at a steady 2,000 rows/s; each minute the table's size, its
 * dead tuples and that minute's commit → webhook latency.
 */
import type { Receiver } from './receivers.js';
import { startBridge, type BenchContext, type SinkSetup } from './scenarios.js';
import { summarize, type LatencySummary } from './stats.js';
import { INSTANCES, steadyLoad, TABLES } from './workloads.js';

export const SOAK_RATE = 2000;
export const SOAK_TXN_ROWS = 10;
const TABLE = `pgbridge.outbox_${INSTANCES.outbox}`;
/** How long a minute's rows may take to arrive after it ended before its latency is taken with what came. */
const CATCH_UP_MS = 180_000;

export interface SoakMinute {
  readonly minute: number;
  /** pg_total_relation_size of the outbox table (heap, indexes, TOAST), MB. */
  readonly tableMb: number;
  readonly indexMb: number;
  readonly deadTuples: number;
  readonly liveTuples: number;
  readonly deliveriesMb: number;
  /** Age in transactions of the oldest snapshot any session holds (the vacuum horizon). */
  readonly horizonAge: number;
  readonly latency: LatencySummary;
  readonly received: number;
  readonly sent: number;
  readonly lagMs: number;
}

export interface SoakResult {
  readonly minutes: readonly SoakMinute[];
  /** Minutes compared at each end: five, fewer in a soak shorter than ten. */
  readonly span: number;
  readonly maxTableMb: number;
  /** p99 of the last five minutes over that of the first five (all of them when fewer than ten). */
  readonly p99Ratio: number;
  readonly firstP99: number;
  readonly lastP99: number;
  readonly peakRssMb: number;
  readonly warnings: number;
}

const mb = (bytes: string): number => Number(bytes) / 2 ** 20;

async function tableFigures(
  ctx: BenchContext,
): Promise<Pick<SoakMinute, 'tableMb' | 'indexMb' | 'deadTuples' | 'liveTuples' | 'deliveriesMb' | 'horizonAge'>> {
  const { rows } = await ctx.db.query<{ total: string; idx: string; dead: string; live: string; deliveries: string; horizon: string | null }>(
    `SELECT pg_total_relation_size($1::regclass)::text AS total, pg_indexes_size($1::regclass)::text AS idx,
            coalesce(s.n_dead_tup, 0)::text AS dead, coalesce(s.n_live_tup, 0)::text AS live,
            pg_total_relation_size('pgbridge.deliveries')::text AS deliveries,
            (SELECT max(age(backend_xmin))::text FROM pg_stat_activity WHERE backend_xmin IS NOT NULL) AS horizon
       FROM pg_stat_user_tables s WHERE s.relid = $1::regclass`,
    [TABLE],
  );
  const r = rows[0];
  return {
    tableMb: mb(r.total),
    indexMb: mb(r.idx),
    deadTuples: Number(r.dead),
    liveTuples: Number(r.live),
    deliveriesMb: mb(r.deliveries),
    horizonAge: Number(r.horizon ?? 0),
  };
}

/** Commit → receive latencies of rows [firstId, firstId + commitAt.length) among what the receiver holds. */
async function minuteLatencies(receiver: Receiver, firstId: number, commitAt: Float64Array): Promise<number[]> {
  const { ids, times } = await receiver.collect({ first: firstId, count: commitAt.length });
  const values: number[] = [];
  for (let i = 0; i < ids.length; i++) {
    const offset = ids[i] - firstId;
    if (offset >= 0 && offset < commitAt.length) values.push(times[i] - commitAt[offset]);
  }
  return values;
}

export function renderMinute(m: SoakMinute): string {
  return (
    `minute ${String(m.minute).padStart(2)}: outbox ${m.tableMb.toFixed(1)} MB (indexes ${m.indexMb.toFixed(1)}), ` +
    `${m.deadTuples} dead / ${m.liveTuples} live tuples, deliveries ${m.deliveriesMb.toFixed(2)} MB, horizon age ${m.horizonAge}; ` +
    `latency p50 ${m.latency.p50.toFixed(1)} / p99 ${m.latency.p99.toFixed(1)} / max ${m.latency.max.toFixed(1)} ms ` +
    `(${m.received}/${m.sent}${m.lagMs > 50 ? `, load generator ${m.lagMs.toFixed(0)} ms behind` : ''})`
  );
}

export async function soak(ctx: BenchContext, sink: SinkSetup, minutes: number): Promise<SoakResult> {
  const receiver = sink.receiver!;
  await receiver.reset();
  const bridge = await startBridge(ctx, 'outbox', sink);
  await bridge.ready();
  const done: SoakMinute[] = [];
  /** Each minute's latencies, for the p99 of the first and last five minutes together. */
  const values: number[][] = [];
  let delivered = 0;
  let peakRssMb = Number.NaN;
  let warnings = 0;
  // The load goes on while a minute's latencies are taken: a bridge falling behind shows up
  // as latency (and a growing table), never as a pause in the writes.
  let measured: Promise<void> = Promise.resolve();
  try {
    for (let minute = 1; minute <= minutes; minute++) {
      const load = await steadyLoad(ctx.db, TABLES.outbox, SOAK_RATE, SOAK_TXN_ROWS, 60);
      const figures = await tableFigures(ctx);
      delivered += load.count;
      const until = delivered;
      measured = measured.then(async () => {
        await receiver.wait(until, CATCH_UP_MS);
        const lat = await minuteLatencies(receiver, load.firstId, load.commitAt);
        values.push(lat);
        const m: SoakMinute = { minute, ...figures, latency: summarize(lat), received: lat.length, sent: load.count, lagMs: load.lagMs };
        done.push(m);
        ctx.log(`  ${renderMinute(m)}`);
      });
    }
    await measured;
  } finally {
    peakRssMb = bridge.sample()?.hwmMb ?? Number.NaN;
    const code = await bridge.stop();
    if (code !== 0) ctx.log(`  pgbridge exited with ${code}`);
    warnings = bridge.problems().length;
    await ctx.db.clean();
  }
  const span = Math.min(5, Math.floor(done.length / 2)) || done.length;
  const firstP99 = summarize(values.slice(0, span).flat()).p99;
  const lastP99 = summarize(values.slice(-span).flat()).p99;
  return {
    minutes: done,
    span,
    maxTableMb: Math.max(...done.map((m) => m.tableMb)),
    p99Ratio: lastP99 / firstP99,
    firstP99,
    lastP99,
    peakRssMb,
    warnings,
  };
}

export function renderSoak(r: SoakResult): string {
  return [
    ...r.minutes.map(renderMinute),
    `max outbox size ${r.maxTableMb.toFixed(1)} MB; p99 first ${r.span} min ${r.firstP99.toFixed(1)} ms, last ${r.span} min ${r.lastP99.toFixed(1)} ms: ` +
      `ratio ${r.p99Ratio.toFixed(2)}; peak RSS ${r.peakRssMb.toFixed(0)} MB; ${r.warnings} warning(s) logged`,
  ].join('\n');
}
