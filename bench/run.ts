/**
 * `npm run bench [-- --quick] [--json] [--md FILE] [--profile DIR] [--dump DIR] [--only a,b] [--budget S]`
 *
 * Ceilings and pgbridge runs on the same machine, database and events, one
 * table, targets met / not met. See bench/README.md for the method.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createTopic, kafkaBrokers } from '../test/support/kafka.js';
import { MosquittoBroker } from '../test/support/mqtt.js';
import { BIN, BridgeProcess, ROOT, writeConfig } from './bridge.js';
import { buildPlan, isScenario, type Plan, type PlanInput, type Sample, type Scenario, type TargetSpec } from './plan.js';
import { Receiver } from './receivers.js';
import { renderMarkdown, renderText, ratioAfterFirstOf, ratioOf, type ResultRow, type Target } from './report.js';
import { outage, type BenchContext } from './scenarios.js';
import { renderSoak, soak, SOAK_RATE, SOAK_TXN_ROWS } from './soak.js';
import { median, medianBy, monoMs, type LatencySummary } from './stats.js';
import { createBenchDatabase, WAL_PUBLICATION, type BenchDatabase } from './workloads.js';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    md: { type: 'string' },
    profile: { type: 'string' },
    dump: { type: 'string' },
    only: { type: 'string' },
    budget: { type: 'string' },
    soak: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});

if (args.help) {
  console.log(`npm run bench -- [--quick] [--json] [--md FILE] [--profile DIR] [--dump DIR] [--budget S] [--only KEY,KEY]
  (default: the full run, 50,000-event bursts, 60 s outage, repeats within a 260 s budget: about 4.5 min)
  --quick         10,000-event bursts, 5 s steady rates, 10 s outage, no repeats (about 75 s)
  --json          print the results as JSON instead of the table (use npm run -s so npm's banner stays off stdout)
  --md FILE       also write the table as Markdown (bench/RESULTS.md)
  --profile DIR   run every pgbridge under node --cpu-prof, profiles in DIR (summarize: node --import tsx bench/profile.ts DIR)
  --dump DIR      write each scenario's per-event latencies (CSV: row id, commit, receive, latency) into DIR
  --budget S      stop repeating scenarios once S seconds have passed (default 260; --quick 100)
  --only KEYS     run only the scenarios whose key contains one of KEYS (see the # column keys with --json)
  --soak MINUTES  instead: outbox → single-event webhook, 10-row txns at 2,000 rows/s for MINUTES; per minute the
                  outbox's size, dead tuples and latency; at the end the first vs last five minutes' p99 (--json too)`);
  process.exit(0);
}

const SCALE = args.quick
  ? {
      burst: 10_000,
      txnRows: 500,
      steadyS: 5,
      steadyWarmS: 1,
      outageS: 10,
      warmS: 2,
      repeats: 1,
      label: '--quick: 10,000-event bursts, 5 s steady, 10 s outage, no repeats',
    }
  : {
      burst: 50_000,
      txnRows: 500,
      steadyS: 10,
      steadyWarmS: 2,
      outageS: 60,
      warmS: 3,
      repeats: 3,
      label: 'full: 50,000-event bursts, 10 s steady, 60 s outage',
    };

const AMQP_URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const NATS_SERVERS = process.env.NATS_SERVERS ?? '127.0.0.1:4222';
/** Besides the outage itself: warm-up, recovery, spawning and stopping (measured 15-20 s). */
const OUTAGE_OVERHEAD_S = 20;
const MIN_OUTAGE_S = 10;
const BUDGET_S = Number(args.budget ?? (args.quick ? 100 : 260));

const began = monoMs();
const log = (line: string): void => {
  process.stderr.write(`[${((monoMs() - began) / 1000).toFixed(1).padStart(6)} s] ${line}\n`);
};
const elapsedS = (): number => (monoMs() - began) / 1000;
const only = args.only?.split(',').filter(Boolean);
const wanted = (key: string): boolean => !only || only.some((o) => key.includes(o));

/** Rebuild when src/ changed after the bundle the CLI runs (dist/bundle/; a tsc-only build leaves it old). */
function ensureBuilt(): void {
  const newest = (dir: string): number =>
    readdirSync(dir, { withFileTypes: true }).reduce((m, e) => {
      const p = path.join(dir, e.name);
      return Math.max(m, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
    }, 0);
  let built = 0;
  try {
    built = newest(path.join(ROOT, 'dist', 'bundle'));
  } catch {
    built = 0;
  }
  if (newest(path.join(ROOT, 'src')) > built) {
    log('dist/bundle/ is older than src/: npm run build');
    execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  }
}

/** Whether the built CLI accepts a sink type (amqp and kafka may not be registered yet). */
function sinkTypeAccepted(type: string, dbUrl: string, sink: object): boolean {
  const file = writeConfig({ postgres: { url: dbUrl }, channels: [{ name: 'probe' }], sinks: [{ name: 'probe', type, ...sink }] });
  try {
    execFileSync(process.execPath, [BIN, 'sql', '-c', file], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    return true;
  } catch (err) {
    const stderr = String((err as { stderr?: Buffer }).stderr ?? '');
    return !/unknown sink type/.test(stderr);
  }
}

/** Every run of every scenario so far, and how long its last run took. */
class Results {
  readonly samples = new Map<Scenario, Sample[]>();
  readonly durations = new Map<Scenario, number>();

  runs(s: Scenario): number {
    return this.samples.get(s)?.length ?? 0;
  }

  add(s: Scenario, sample: Sample, seconds: number): void {
    this.samples.set(s, [...(this.samples.get(s) ?? []), sample]);
    this.durations.set(s, seconds);
  }
}

type Receivers = Pick<PlanInput, 'http' | 'listen' | 'amqp' | 'kafka' | 'nats' | 'mqtt' | 'redis' | 'replication'> & { readonly all: Receiver[] };

/** MQTT_URL, else a Mosquitto of the bench's own: the system one's 1,000-message queue per subscriber drops messages to a receiver that falls behind. */
let mqttBroker: MosquittoBroker | undefined;

async function mqttUrl(notes: string[]): Promise<string | undefined> {
  if (process.env.MQTT_URL) return process.env.MQTT_URL;
  mqttBroker = new MosquittoBroker({ users: [] });
  try {
    await mqttBroker.start();
    return mqttBroker.url;
  } catch (err) {
    notes.push(`no MQTT broker (${String(err)}): mqtt rows skipped`);
    return undefined;
  }
}

/** The far ends: webhook, LISTEN, and AMQP and Kafka when this build has those sink types. */
async function startReceivers(db: BenchDatabase, notes: string[], into: Receiver[]): Promise<Receivers> {
  const amqpOk = sinkTypeAccepted('amqp', db.url, { url: AMQP_URL, exchange: 'x' });
  const kafkaOk = sinkTypeAccepted('kafka', db.url, { brokers: ['127.0.0.1:9092'] });
  if (!amqpOk) notes.push('the amqp sink type is not registered in this build (src/sinks/registry.ts): amqp rows skipped');
  if (!kafkaOk) notes.push('the kafka sink type is not registered in this build (src/sinks/registry.ts): kafka rows skipped');
  const started = async (r: Receiver): Promise<Receiver> => {
    into.push(r);
    return r;
  };
  const http = await started(await Receiver.start({ kind: 'http' }));
  const listen = await started(await Receiver.start({ kind: 'listen', url: db.url, channel: 'pgbridge' }));
  const exchange = `pgbridge_bench_${process.pid}`;
  const amqp = amqpOk
    ? { receiver: await started(await Receiver.start({ kind: 'amqp', url: AMQP_URL, exchange })), url: AMQP_URL, exchange }
    : undefined;
  let kafka: Receivers['kafka'];
  if (kafkaOk) {
    const brokers = await kafkaBrokers();
    const topics = { ceiling: `bench.ceiling.${process.pid}`, bridge: `bench.bridge.${process.pid}` };
    await createTopic(brokers, topics.ceiling, 4);
    await createTopic(brokers, topics.bridge, 4);
    kafka = { receiver: await started(await Receiver.start({ kind: 'kafka', brokers, topics: [topics.ceiling, topics.bridge] })), brokers, topics };
  }
  const stream = `pgbridge_bench_${process.pid}`;
  const nats = sinkTypeAccepted('nats', db.url, { url: `nats://${NATS_SERVERS}` })
    ? {
        receiver: await started(await Receiver.start({ kind: 'nats', servers: NATS_SERVERS, stream, subjects: [`${stream}.>`] })),
        servers: NATS_SERVERS,
        stream,
      }
    : undefined;
  const mqttAt = sinkTypeAccepted('mqtt', db.url, { url: 'mqtt://127.0.0.1:1883' }) ? await mqttUrl(notes) : undefined;
  const prefix = `bench/${process.pid}`;
  const mqtt =
    mqttAt === undefined
      ? undefined
      : { receiver: await started(await Receiver.start({ kind: 'mqtt', url: mqttAt, filter: `${prefix}/#` })), url: mqttAt, prefix };
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const streams = { ceiling: `bench:ceiling:${process.pid}`, bridge: `bench:bridge:${process.pid}` };
  const redis = sinkTypeAccepted('redis', db.url, { url: redisUrl })
    ? {
        receiver: await started(await Receiver.start({ kind: 'redis', url: redisUrl, streams: [streams.ceiling, streams.bridge] })),
        url: redisUrl,
        streams,
      }
    : undefined;
  const walLevel = (await db.query<{ wal_level: string }>('SHOW wal_level')).rows[0].wal_level;
  if (walLevel !== 'logical') notes.push(`wal_level is ${walLevel}, not logical: wal rows skipped`);
  const replication =
    walLevel === 'logical'
      ? await started(await Receiver.start({ kind: 'replication', url: db.url, slot: db.slots.bare, publication: WAL_PUBLICATION }))
      : undefined;
  log(
    `receivers up (webhook ${http.url}; amqp ${amqpOk ? 'yes' : 'no'}; kafka ${kafka ? kafka.brokers.join(',') : 'no'}; nats ${nats ? 'yes' : 'no'}; mqtt ${mqttAt ?? 'no'}; redis ${redis ? 'yes' : 'no'}; replication ${replication ? 'yes' : 'no'})`,
  );
  return { http, listen, amqp, kafka, nats, mqtt, redis, replication, all: into };
}

async function runOnce(s: Scenario, results: Results, receivers: readonly Receiver[]): Promise<void> {
  const t0 = monoMs();
  const round = results.runs(s) + 1;
  log(`${s.key}${round > 1 ? ` (run ${round})` : ''}`);
  let sample: Sample;
  try {
    sample = await s.run();
  } finally {
    await Receiver.idleAll(receivers);
  }
  const load = os.loadavg()[0];
  sample.extra.loadavg1 = load;
  results.add(s, sample, (monoMs() - t0) / 1000);
  log(`  ${describe(s, sample, results.samples)}, load ${load.toFixed(1)}${sample.notes.length ? ` — ${sample.notes.join('; ')}` : ''}`);
}

/** Every scenario once (the cheap insert-rate ceilings SCALE.repeats times, interleaved). */
async function firstPass(plan: Plan, results: Results, receivers: readonly Receiver[]): Promise<void> {
  for (let i = 0; i < SCALE.repeats; i++) for (const s of plan.inserts) await runOnce(s, results, receivers);
  for (const s of plan.scenarios) if (!plan.inserts.includes(s)) await runOnce(s, results, receivers);
}

/** A sink down for a while under steady writes; on a loaded machine the first pass runs long, and a shorter outage keeps the run under 5 minutes. */
async function outagePass(plan: Plan, ctx: BenchContext): Promise<Record<string, unknown>> {
  const leftS = Math.floor(BUDGET_S - elapsedS() - OUTAGE_OVERHEAD_S);
  const outageS = Math.max(Math.min(SCALE.outageS, MIN_OUTAGE_S), Math.min(SCALE.outageS, leftS));
  log(`outage: outbox → webhook batched, ${outageS} s${outageS < SCALE.outageS ? ` (shortened from ${SCALE.outageS} s: time budget)` : ''}`);
  const o = await outage(ctx, plan.outageSink, 1000, SCALE.warmS, outageS);
  log(
    `  RSS before ${o.rssBeforeMb.toFixed(0)} MB, peak during ${o.rssPeakDuringMb.toFixed(0)} MB, after ${o.rssAfterMb.toFixed(0)} MB; recovered in ${o.recoverS.toFixed(1)} s`,
  );
  return { ...o };
}

/** Repeats of the scenarios behind the targets, each ceiling together with its pgbridge run, while the time budget lasts. */
async function repeats(plan: Plan, results: Results, receivers: readonly Receiver[]): Promise<void> {
  for (let round = 2; round <= SCALE.repeats; round++) {
    for (const members of plan.repeatGroups) {
      const group = members.filter((s) => results.runs(s) < round);
      if (group.length === 0) continue;
      const cost = group.reduce((sum, s) => sum + (results.durations.get(s) ?? 0), 0);
      if (elapsedS() + cost > BUDGET_S) {
        log(`skipping run ${round} of ${group.map((s) => s.key).join(' + ')}: time budget (${BUDGET_S} s)`);
        continue;
      }
      for (const s of group) await runOnce(s, results, receivers);
    }
  }
}

/** --soak: the one scenario, its own report. */
async function soakMain(minutes: number): Promise<void> {
  if (!Number.isInteger(minutes) || minutes < 1) throw new Error(`--soak takes a whole number of minutes, got ${args.soak}`);
  ensureBuilt();
  const db = await createBenchDatabase();
  const http = await Receiver.start({ kind: 'http' });
  const interrupted = async (): Promise<void> => {
    log('interrupted: cleaning up');
    await Promise.all([...BridgeProcess.live].map((b) => b.stop(2000)));
    await http.stop();
    await db.drop().catch(() => {});
    process.exit(130);
  };
  process.once('SIGINT', () => void interrupted());
  process.once('SIGTERM', () => void interrupted());
  log(`soak: outbox → webhook single, ${SOAK_TXN_ROWS}-row txns at ${SOAK_RATE} rows/s for ${minutes} min, database ${db.name}`);
  try {
    const result = await soak({ db, log }, { label: 'webhook single', config: { type: 'webhook', url: http.url }, receiver: http }, minutes);
    const meta = {
      date: new Date().toISOString().slice(0, 10),
      cpus: os.cpus().length,
      node: process.version,
      postgres: await postgresVersion(),
      loadavg: os.loadavg(),
    };
    if (args.json) console.log(JSON.stringify({ meta, soak: result }, null, 2));
    else console.log(`${renderSoak(result)}\nload average at the end ${meta.loadavg.map((l) => l.toFixed(1)).join(' ')} (${meta.cpus} CPUs)`);
  } finally {
    await http.stop();
    await db.drop().catch((err: unknown) => log(`dropping ${db.name}: ${String(err)}`));
  }
}

async function main(): Promise<void> {
  if (args.soak !== undefined) return soakMain(Number(args.soak));
  ensureBuilt();
  if (args.profile) mkdirSync(args.profile, { recursive: true });
  if (args.dump) mkdirSync(args.dump, { recursive: true });
  const notes: string[] = [];
  const db = await createBenchDatabase();
  log(`database ${db.name}`);
  /** With --profile / --dump, each scenario's files go under its key. */
  const ctxFor = (key: string): BenchContext => ({
    db,
    log,
    ...(args.profile ? { profileDir: path.resolve(args.profile, key) } : {}),
    ...(args.dump ? { dumpFile: path.resolve(args.dump, `${key}.csv`) } : {}),
  });
  const receivers: Receiver[] = [];
  // Ctrl-C: stop the bridges and receivers, drop the database, then exit.
  const interrupted = async (): Promise<void> => {
    log('interrupted: cleaning up');
    await Promise.all([...BridgeProcess.live].map((b) => b.stop(2000)));
    await Promise.all(receivers.map((r) => r.stop()));
    await mqttBroker?.dispose();
    await db.drop().catch(() => {});
    process.exit(130);
  };
  process.once('SIGINT', () => void interrupted());
  process.once('SIGTERM', () => void interrupted());
  const results = new Results();
  let plan: Plan | undefined;
  let outageResult: Record<string, unknown> | undefined;
  try {
    const far = await startReceivers(db, notes, receivers);
    plan = buildPlan({ db, scale: SCALE, ...far, ctxFor, wanted });
    await firstPass(plan, results, receivers);
    if (wanted('outage')) outageResult = await outagePass(plan, ctxFor('outage'));
    await repeats(plan, results, receivers);
  } finally {
    await Promise.all(receivers.map((r) => r.stop()));
    await mqttBroker?.dispose();
    await db.drop().catch((err: unknown) => log(`dropping ${db.name}: ${String(err)}`));
  }
  await report(plan, results, notes, outageResult);
}

async function report(plan: Plan, results: Results, notes: string[], outageResult: Record<string, unknown> | undefined): Promise<void> {
  const rows = aggregate(plan.scenarios, results.samples);
  const targets = buildTargets(plan, rows, SCALE.burst);
  const totalS = Math.round(elapsedS());
  const meta = {
    date: new Date().toISOString().slice(0, 10),
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryGb: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()}`,
    node: process.version,
    postgres: await postgresVersion(),
    command: `npm run bench${args.quick ? ' -- --quick' : ''}`,
    scale: SCALE.label,
    loadavg: os.loadavg(),
    totalS,
  };
  const table = [...rows.values()];
  notes.push(...table.flatMap((r) => (r.notes ?? []).map((note) => `${r.key}: ${note}`)));
  const out = { meta, rows: table, targets, outage: outageResult, notes };
  if (args.md) writeFileSync(args.md, renderMarkdown(out));
  if (args.json) console.log(JSON.stringify(out, null, 2));
  else console.log(renderText(out));
  log(`done in ${totalS} s`);
}

const pick = (s: Sample, primary: Scenario['primary']): number => (primary === 'rate' ? s.rate : (s.latency?.p99 ?? Number.NaN));

/** What `s`'s ratio is against: its ceiling scenario's median rate so far, or the offered rate. */
function ceilingRate(s: Scenario, samples: ReadonlyMap<Scenario, Sample[]>): { name: string; rate: number } | undefined {
  const ceiling = s.ceiling;
  if (ceiling === undefined) return undefined;
  if (!isScenario(ceiling)) return ceiling;
  const runs = samples.get(ceiling);
  if (!runs?.length) return undefined;
  return { name: ceiling.short ?? ceiling.sink, rate: median(runs.map((r) => r.rate)) };
}

function describe(s: Scenario, sample: Sample, samples: ReadonlyMap<Scenario, Sample[]>): string {
  const c = ceilingRate(s, samples);
  const parts = [`${Math.round(sample.rate)} ev/s${c ? ` (${(sample.rate / c.rate).toFixed(2)} of ${Math.round(c.rate)})` : ''}`];
  if (sample.latency)
    parts.push(`p50 ${sample.latency.p50.toFixed(1)} / p99 ${sample.latency.p99.toFixed(1)} / max ${sample.latency.max.toFixed(1)} ms`);
  if (sample.peakRssMb !== undefined) parts.push(`peak RSS ${sample.peakRssMb.toFixed(0)} MB, CPU ${sample.cpuPer10k?.toFixed(2)} s/10k`);
  const x = sample.extra as Record<string, number | undefined>;
  if (x.insertS !== undefined) parts.push(`inserts ${x.insertS.toFixed(2)} s${x.tailS !== undefined ? ` + tail ${x.tailS.toFixed(2)} s` : ''}`);
  if (x.firstEventS !== undefined)
    parts.push(`first event ${x.firstEventS.toFixed(2)} s after spawn, then ${Math.round(x.rateAfterFirst ?? 0)} ev/s`);
  if (x.startupS !== undefined)
    parts.push(
      `CPU ${sample.cpuPer10k?.toFixed(2)} s/10k, first publish ${x.startupS.toFixed(2)} s after spawn, then ${Math.round(x.rateFromFirstPublish ?? 0)} ev/s`,
    );
  if (x.pgTransactions !== undefined) parts.push(`${x.pgTransactions} Postgres txns`);
  const warm = sample.extra.warmup as LatencySummary | undefined;
  if (warm) parts.push(`warm-up p99 ${warm.p99.toFixed(1)} ms`);
  return parts.join(', ');
}

/** The median first → last event rate of the scenario's ceiling, where the ceiling reports one (the bare decoder). */
function ceilingRateAfterFirst(s: Scenario, samples: ReadonlyMap<Scenario, Sample[]>): number | undefined {
  if (s.ceiling === undefined || !isScenario(s.ceiling)) return undefined;
  const rates = (samples.get(s.ceiling) ?? []).flatMap((r) => (typeof r.extra.rateAfterFirst === 'number' ? [r.extra.rateAfterFirst] : []));
  return rates.length ? median(rates) : undefined;
}

/** The scenario's rate against each of its `beside` scenarios' median rates. */
function besideRates(s: Scenario, rate: number, samples: ReadonlyMap<Scenario, Sample[]>): Array<{ name: string; rate: number; ratio: number }> {
  return (s.beside ?? []).flatMap((other) => {
    const runs = samples.get(other);
    if (!runs?.length) return [];
    const otherRate = median(runs.map((r) => r.rate));
    const name = other.mode === '—' ? (other.short ?? other.sink) : `${other.mode} ${other.short ?? other.sink}`;
    return [{ name, rate: otherRate, ratio: rate / otherRate }];
  });
}

/** One row per scenario run: the median run by its primary figure; peak RSS is the worst run's. */
function aggregate(scenarios: readonly Scenario[], samples: ReadonlyMap<Scenario, Sample[]>): Map<Scenario, ResultRow> {
  const rows = new Map<Scenario, ResultRow>();
  for (const s of scenarios) {
    const runs = samples.get(s);
    if (!runs?.length) continue;
    // With an even number of runs, the worse of the two middle ones: lower rate, higher p99.
    const mid = medianBy(runs, (r) => (s.primary === 'rate' ? pick(r, s.primary) : -pick(r, s.primary)));
    const c = ceilingRate(s, samples);
    const rss = runs.map((r) => r.peakRssMb).filter((v): v is number => v !== undefined);
    rows.set(s, {
      key: s.key,
      kind: s.kind,
      workload: s.workload,
      mode: s.mode,
      sink: s.sink,
      events: mid.events,
      received: mid.received,
      rate: mid.rate,
      ceilingName: c?.name,
      ceilingRate: c?.rate,
      latency: mid.latency,
      peakRssMb: rss.length ? Math.max(...rss) : undefined,
      cpuPer10k: mid.cpuPer10k,
      repeats: runs.length,
      notes: [...new Set(runs.flatMap((r) => r.notes))],
      extra: {
        ...mid.extra,
        runs: runs.map((r) => ({ rate: r.rate, p99: r.latency?.p99, peakRssMb: r.peakRssMb, loadavg1: r.extra.loadavg1 })),
        beside: besideRates(s, mid.rate, samples),
        ceilingRateAfterFirst: ceilingRateAfterFirst(s, samples),
      },
    });
  }
  return rows;
}

function buildTargets(plan: Plan, rows: ReadonlyMap<Scenario, ResultRow>, burst: number): Target[] {
  const measured = (s: Scenario | undefined, figure: TargetSpec['figure']): number | undefined => {
    const row = s && rows.get(s);
    if (!row) return undefined;
    if (figure === 'p99') return row.latency?.p99;
    return figure === 'ratio' ? ratioOf(row) : ratioAfterFirstOf(row);
  };
  const bursts = [...rows.values()].filter((r) => (r.kind === 'burst' || r.kind === 'drain') && r.peakRssMb !== undefined);
  const worst = bursts.reduce<ResultRow | undefined>((w, r) => (!w || r.peakRssMb! > w.peakRssMb! ? r : w), undefined);
  return [
    ...plan.targets.map(({ name, scenario, figure, unit, op, threshold, detail }) => ({
      name,
      measured: measured(scenario, figure),
      unit,
      op,
      threshold,
      detail,
    })),
    {
      name: `peak RSS at the ${burst / 1000}k burst`,
      measured: worst?.peakRssMb,
      unit: 'MB',
      op: '<=',
      threshold: 150,
      detail: `worst of the burst/drain runs (${worst?.key ?? '—'}), VmHWM`,
    },
  ];
}

async function postgresVersion(): Promise<string> {
  try {
    return execFileSync('psql', [process.env.PGBRIDGE_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres', '-Atc', 'SHOW server_version'])
      .toString()
      .trim();
  } catch {
    return 'unknown';
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
