/**
 * What one bench run measures: every scenario, what each ratio is against
 * (the ceiling scenario itself, or an offered rate), which scenarios are
 * repeated together, and the targets. Built once, then run by bench/run.ts.
 */
import { runBareProcess, type BareClient, type BareResult } from './bare-process.js';
import type { BareJob } from './bare/job.js';
import { bareAmqp, bareKafka, bareListen, bareListenSteady, bareUndici, insertRate, type CeilingResult } from './ceilings.js';
import { bareReplicationDrain, bareReplicationSteady, insertRateDecoded, insertRateRecvlogical, type StreamedInsertRate } from './wal-ceilings.js';
import type { Receiver } from './receivers.js';
import { drain, liveBurst, steady, type BenchContext, type RunMeasurement, type SinkSetup } from './scenarios.js';
import { summarize, type LatencySummary } from './stats.js';
import { TABLES, type BenchDatabase, type Mode } from './workloads.js';

/** One measured run of a scenario. */
export interface Sample {
  readonly rate: number;
  readonly events: number;
  readonly received: number;
  readonly latency?: LatencySummary;
  readonly peakRssMb?: number;
  readonly cpuPer10k?: number;
  readonly notes: readonly string[];
  readonly extra: Record<string, unknown>;
}

/** A steady scenario's ratio is against the rate it was offered. */
export interface OfferedRate {
  readonly name: 'offered';
  readonly rate: number;
}

export interface Scenario {
  /** Names its files (--profile, --dump), its JSON row and --only matches. */
  readonly key: string;
  readonly kind: 'ceiling' | 'burst' | 'drain' | 'steady';
  readonly workload: string;
  readonly mode: string;
  readonly sink: string;
  /** How a row names this scenario when it is its ceiling. */
  readonly short?: string;
  /** What the ratio is against: the ceiling scenario (its median rate), or an offered rate. */
  readonly ceiling?: Scenario | OfferedRate;
  /** Other scenarios its rate is set beside in the details (wal drains: the same sink in outbox mode, the bare decoder). */
  readonly beside?: readonly Scenario[];
  /** Which figure picks the median run: throughput, or p99 latency for steady rates. */
  readonly primary: 'rate' | 'p99';
  readonly run: () => Promise<Sample>;
}

export const isScenario = (c: Scenario | OfferedRate): c is Scenario => 'run' in c;

/** A target on one scenario's figure; `scenario` undefined when it is not in this run (--only, a sink type missing). */
export interface TargetSpec {
  readonly name: string;
  readonly scenario: Scenario | undefined;
  /** ratio: rate ÷ the ceiling's; ratioAfterFirst: the same from the first event on, both (drains whose ceiling reports it); p99: latency. */
  readonly figure: 'ratio' | 'ratioAfterFirst' | 'p99';
  readonly unit: string;
  readonly op: '>=' | '<=';
  readonly threshold: number;
  readonly detail: string;
}

export interface Plan {
  /** In run order; the insert-rate ceilings are interleaved `repeats` times first. */
  readonly scenarios: readonly Scenario[];
  readonly inserts: readonly Scenario[];
  /** Repeated after the first pass while the budget lasts, cheapest and noisiest first: a ceiling and its pgbridge run go together. */
  readonly repeatGroups: ReadonlyArray<readonly Scenario[]>;
  readonly targets: readonly TargetSpec[];
  /** The outage scenario's sink (run by bench/run.ts after the first pass). */
  readonly outageSink: SinkSetup;
}

export interface Scale {
  readonly burst: number;
  readonly txnRows: number;
  readonly steadyS: number;
  readonly steadyWarmS: number;
}

/** What the plan is built from: the database, the receivers up, the sinks this build has. */
export interface PlanInput {
  readonly db: BenchDatabase;
  readonly scale: Scale;
  readonly http: Receiver;
  readonly listen: Receiver;
  readonly amqp?: { readonly receiver: Receiver; readonly url: string; readonly exchange: string };
  readonly kafka?: {
    readonly receiver: Receiver;
    readonly brokers: string[];
    readonly topics: { readonly ceiling: string; readonly bridge: string };
  };
  /** One JetStream stream for the ceiling's and the bridge's messages, read by one consumer. */
  readonly nats?: { readonly receiver: Receiver; readonly servers: string; readonly stream: string };
  /** The bare client and the bridge publish under `prefix` (the default topic template's shape below it). */
  readonly mqtt?: { readonly receiver: Receiver; readonly url: string; readonly prefix: string };
  readonly redis?: { readonly receiver: Receiver; readonly url: string; readonly streams: { readonly ceiling: string; readonly bridge: string } };
  /** The bare replication consumer (wal_level = logical only). */
  readonly replication?: Receiver;
  /** Per scenario key: where its profile and dump go. */
  readonly ctxFor: (key: string) => BenchContext;
  /** --only: whether a scenario key is wanted. */
  readonly wanted: (key: string) => boolean;
}

export const WEBHOOK_IN_FLIGHT = 4; // the webhook sink's default max_in_flight
export const BATCH = 500; // batched webhook max_events; the amqp/kafka sinks' default max_batch
const REDIS_IN_FLIGHT = 4; // the bare client's best here (1 is slower for it); the sink's default is 1

function fromCeiling(c: CeilingResult, latency?: LatencySummary): Sample {
  return {
    rate: c.rate,
    events: c.events,
    received: c.received,
    latency,
    cpuPer10k: c.cpuS === undefined ? undefined : (c.cpuS / c.events) * 10_000,
    notes: c.received < c.events ? [`only ${c.received} of ${c.events} arrived`] : [],
    extra: { seconds: c.seconds, insertS: c.insertS, rateAfterFirst: c.rateAfterFirst },
  };
}

/** An insert rate while a consumer streamed; its CPU per 10k rows in the CPU column. */
function fromStreamedInsert(r: StreamedInsertRate, events: number): Sample {
  return { rate: r.rate, events, received: events, cpuPer10k: (r.consumerCpuS / events) * 10_000, notes: [], extra: {} };
}

function fromBridge(m: RunMeasurement, extra: Record<string, unknown> = {}): Sample {
  return {
    rate: m.rate,
    events: m.events,
    received: m.received,
    latency: m.latency,
    peakRssMb: m.peakRssMb,
    cpuPer10k: m.cpuPer10k,
    notes: [
      ...m.notes,
      ...(m.outboxLeft > 0 ? [`${m.outboxLeft} rows left in the outbox`] : []),
      ...(m.duplicates > 0 ? [`${m.duplicates} duplicates`] : []),
    ],
    extra: {
      ...extra,
      seconds: m.seconds,
      firstEventS: m.firstEventS,
      rateAfterFirst: m.rateAfterFirst,
      insertS: m.insertS,
      tailS: m.tailS,
      warnings: m.warnings,
      duplicates: m.duplicates,
      pgTransactions: m.pgTransactions,
    },
  };
}

/** A bare client in its own process (bench/bare-process.ts): also how long it took to start, and its rate from the first publish. */
async function fromBare(client: BareClient, job: BareJob, receiver: Receiver): Promise<Sample> {
  const result: BareResult = await runBareProcess(client, job, receiver);
  const sample = fromCeiling(result);
  return { ...sample, extra: { ...sample.extra, startupS: result.startupS, rateFromFirstPublish: result.received / result.fromFirstPublishS } };
}

/** Commit → receiver latency of what the receiver holds now, for a ceiling that wrote rows. */
async function latencyOf(receiver: Receiver, c: CeilingResult): Promise<LatencySummary | undefined> {
  const written = c.written;
  if (!written) return undefined;
  const { ids, times } = await receiver.collect();
  const lat: number[] = [];
  for (let i = 0; i < ids.length; i++) {
    const offset = ids[i] - written.firstId;
    if (offset >= 0 && offset < written.count) lat.push(times[i] - written.commitAt[offset]);
  }
  return summarize(lat);
}

type Add = (s: Scenario | undefined) => Scenario | undefined;
type Ceilings = ReturnType<typeof ceilingScenarios>;
type BridgeRuns = ReturnType<typeof bridgeScenarios>;

export function buildPlan(input: PlanInput): Plan {
  const scenarios: Scenario[] = [];
  /** The scenario, when --only wants it; undefined otherwise (and for a sink type this build lacks). */
  const add: Add = (s) => {
    if (!s || !input.wanted(s.key)) return undefined;
    scenarios.push(s);
    return s;
  };
  const sinks = benchSinks(input);
  const ceilings = ceilingScenarios(input, sinks, add);
  const runs = bridgeScenarios(input, sinks, ceilings, add);
  return {
    scenarios,
    inserts: group(
      ceilings.insertPlain,
      ceilings.insertOutbox,
      ceilings.insertNotify,
      ceilings.insertPublished,
      ceilings.insertDecoded,
      ceilings.insertRecvlogical,
      ceilings.insertWal,
    ),
    repeatGroups: repeatGroups(ceilings, runs),
    targets: targetSpecs(input.scale.burst, ceilings, runs),
    outageSink: sinks.batched,
  };
}

const group = (...members: Array<Scenario | undefined>): Scenario[] => members.filter((s): s is Scenario => s !== undefined);

/** The sinks pgbridge is measured with; amqp and kafka when this build has them. */
function benchSinks({ http, amqp, kafka, nats, mqtt, redis }: PlanInput) {
  return {
    batched: { label: 'webhook batched', config: { type: 'webhook', url: http.url, batch: { max_events: BATCH, max_wait_ms: 0 } }, receiver: http },
    single: { label: 'webhook single', config: { type: 'webhook', url: http.url }, receiver: http },
    amqp: amqp && { label: 'amqp', config: { type: 'amqp', url: amqp.url, exchange: amqp.exchange }, receiver: amqp.receiver },
    kafka: kafka && { label: 'kafka', config: { type: 'kafka', brokers: kafka.brokers, topic: kafka.topics.bridge }, receiver: kafka.receiver },
    nats: nats && {
      label: 'nats',
      config: { type: 'nats', url: `nats://${nats.servers}`, stream: nats.stream, subject: `${nats.stream}.{schema}.{table}.{op}` },
      receiver: nats.receiver,
    },
    mqtt: mqtt && { label: 'mqtt', config: { type: 'mqtt', url: mqtt.url, topic: `${mqtt.prefix}/{schema}/{table}/{op}` }, receiver: mqtt.receiver },
    stdout: { label: 'stdout, lines counted', config: { type: 'stdout' }, receiver: undefined },
    redis: redis && { label: 'redis', config: { type: 'redis', url: redis.url, stream: redis.streams.bridge }, receiver: redis.receiver },
  } satisfies Record<string, SinkSetup | undefined>;
}

const bareJob = (server: string, destination: string, firstId: number, count: number, inFlight: number): BareJob => ({
  server,
  destination,
  table: TABLES.outbox,
  firstId,
  count,
  batch: BATCH,
  inFlight,
});

/** What the bare clients reach on this machine: the ceilings pgbridge's ratios are against. */
function ceilingScenarios(input: PlanInput, sinks: ReturnType<typeof benchSinks>, add: Add) {
  const { db, scale, http, listen, amqp, kafka, nats, mqtt, redis, replication, ctxFor } = input;
  const n = scale.burst;
  const txn = scale.txnRows;
  const burstName = `${n / 1000}k rows, ${txn}-row txns`;
  const insertCeiling = (kind: 'plain' | 'outbox' | 'notify', label: string, ceiling?: Scenario): Scenario | undefined =>
    add({
      key: `ceiling.insert.${kind}`,
      kind: 'ceiling',
      workload: burstName,
      mode: kind === 'plain' ? '—' : kind,
      sink: label,
      short: 'no trigger',
      ceiling,
      primary: 'rate',
      run: async () => {
        const rate = await insertRate(db, TABLES[kind], n, txn);
        return { rate, events: n, received: n, notes: [], extra: {} };
      },
    });
  const insertPlain = insertCeiling('plain', 'INSERT, no trigger');
  const insertOutbox = insertCeiling('outbox', 'INSERT + outbox trigger', insertPlain);
  const insertNotify = insertCeiling('notify', 'INSERT + notify trigger, nobody listening', insertPlain);
  // wal capture costs the writes nothing in WAL for inserts (REPLICA IDENTITY FULL only adds to UPDATE and DELETE);
  // what it takes is CPU: the walsender decoding, and here pgbridge on the same two cores.
  const insertWal = add(
    replication && {
      key: 'ceiling.insert.wal',
      kind: 'ceiling',
      workload: burstName,
      mode: 'wal',
      sink: 'INSERT, published, pgbridge streaming → stdout',
      ceiling: insertPlain,
      primary: 'rate',
      run: async () => {
        const m = await liveBurst(ctxFor('ceiling.insert.wal'), 'wal', sinks.stdout, n, txn, true);
        return { ...fromBridge(m), rate: m.insertRate ?? Number.NaN };
      },
    },
  );
  const insertPublished = add(
    replication && {
      key: 'ceiling.insert.wal-idle',
      kind: 'ceiling',
      workload: burstName,
      mode: 'wal',
      sink: 'INSERT, published (REPLICA IDENTITY FULL), nobody streaming',
      ceiling: insertPlain,
      primary: 'rate',
      run: async () => {
        const rate = await insertRate(db, TABLES.wal, n, txn);
        return { rate, events: n, received: n, notes: [], extra: {} };
      },
    },
  );
  const insertDecoded = add(
    replication && {
      key: 'ceiling.insert.wal-decode',
      kind: 'ceiling',
      workload: burstName,
      mode: 'wal',
      sink: 'INSERT, published, walsender streaming to a bare decoder',
      ceiling: insertPlain,
      primary: 'rate',
      run: async () => fromStreamedInsert(await insertRateDecoded(db, replication, n, txn), n),
    },
  );
  const insertRecvlogical = add(
    replication && {
      key: 'ceiling.insert.wal-recvlogical',
      kind: 'ceiling',
      workload: burstName,
      mode: 'wal',
      sink: 'INSERT, published, walsender streaming to pg_recvlogical (C, decodes nothing)',
      ceiling: insertPlain,
      primary: 'rate',
      run: async () => fromStreamedInsert(await insertRateRecvlogical(db, n, txn), n),
    },
  );
  const walDecode = add(
    replication && {
      key: 'ceiling.wal-decode',
      kind: 'ceiling',
      workload: `${n / 1000}k backlog, drain`,
      mode: 'wal',
      sink: 'bare replication consumer, decode only',
      short: 'bare decoder',
      primary: 'rate',
      run: async () => fromCeiling(await bareReplicationDrain(db, replication, n, txn)),
    },
  );
  /** A bare client under 1,000 ev/s in 1-row transactions: the latency floor of a capture mode on this machine. */
  const steadyCeiling = (key: string, mode: string, sink: string, receiver: Receiver, measure: () => Promise<CeilingResult>): void =>
    void add({
      key,
      kind: 'ceiling',
      workload: `1000 ev/s × ${scale.steadyS} s, 1-row txns`,
      mode,
      sink,
      ceiling: { name: 'offered', rate: 1000 },
      primary: 'p99',
      run: async () => {
        const c = await measure();
        return fromCeiling(c, await latencyOf(receiver, c));
      },
    });
  if (replication) {
    steadyCeiling('ceiling.wal-decode-steady', 'wal', 'bare replication consumer, decode only', replication, () =>
      bareReplicationSteady(db, replication, 1000, 1, scale.steadyS),
    );
  }
  const listenBurst = add({
    key: 'ceiling.listen',
    kind: 'ceiling',
    workload: burstName,
    mode: 'notify',
    sink: 'bare pg LISTEN',
    short: 'bare LISTEN',
    primary: 'rate',
    run: async () => {
      const c = await bareListen(db, listen, n, txn);
      return fromCeiling(c, await latencyOf(listen, c));
    },
  });
  steadyCeiling('ceiling.listen-steady', 'notify', 'bare pg LISTEN', listen, () => bareListenSteady(db, listen, 1000, 1, scale.steadyS));
  const undiciSingle = add({
    key: 'ceiling.undici.single',
    kind: 'ceiling',
    workload: burstName,
    mode: '—',
    sink: `bare undici, 1 event/POST, ${WEBHOOK_IN_FLIGHT} conns`,
    short: 'bare undici',
    primary: 'rate',
    run: async () => fromCeiling(await bareUndici(http, db.nextIds(n), n, WEBHOOK_IN_FLIGHT)),
  });
  const undiciBatched = add({
    key: 'ceiling.undici.batched',
    kind: 'ceiling',
    workload: burstName,
    mode: '—',
    sink: `bare undici, ${BATCH} events/POST, ${WEBHOOK_IN_FLIGHT} conns`,
    short: 'bare undici batched',
    primary: 'rate',
    run: async () => fromCeiling(await bareUndici(http, db.nextIds(n), n, WEBHOOK_IN_FLIGHT, BATCH)),
  });
  const amqpCeiling = add(
    amqp && {
      key: 'ceiling.amqp',
      kind: 'ceiling',
      workload: burstName,
      mode: '—',
      sink: `bare amqplib confirm channel, ${BATCH * 4} unconfirmed`,
      short: 'bare amqplib',
      primary: 'rate',
      run: async () => fromCeiling(await bareAmqp(amqp.url, amqp.exchange, amqp.receiver, db.nextIds(n), n, BATCH * 4)),
    },
  );
  const kafkaCeiling = add(
    kafka && {
      key: 'ceiling.kafka',
      kind: 'ceiling',
      workload: burstName,
      mode: '—',
      sink: `bare kafkajs, acks all, ${BATCH}/send, 4 in flight`,
      short: 'bare kafkajs',
      primary: 'rate',
      run: async () => fromCeiling(await bareKafka(kafka.brokers, kafka.topics.ceiling, kafka.receiver, db.nextIds(n), n, BATCH, 4)),
    },
  );

  // The same two clients timed as the nats/mqtt/redis ones are: a process of their own, from
  // spawn (Node, the library, connecting, Kafka's topic metadata). Shown beside the in-process
  // ceilings above, which the goals' ratios still use (bench/README.md, "Ceilings").
  const amqpSpawnCeiling = add(
    amqp && {
      key: 'ceiling.amqp.spawn',
      kind: 'ceiling',
      workload: burstName,
      mode: '—',
      sink: `bare amqplib confirm channel, ${BATCH * 4} unconfirmed, own process`,
      short: 'bare amqplib from spawn',
      primary: 'rate',
      run: () => fromBare('amqp', bareJob(amqp.url, amqp.exchange, db.nextIds(n), n, 4), amqp.receiver),
    },
  );
  const kafkaSpawnCeiling = add(
    kafka && {
      key: 'ceiling.kafka.spawn',
      kind: 'ceiling',
      workload: burstName,
      mode: '—',
      sink: `bare kafkajs, acks all, ${BATCH}/send, 4 in flight, own process`,
      short: 'bare kafkajs from spawn',
      primary: 'rate',
      run: () => fromBare('kafka', bareJob(kafka.brokers.join(','), kafka.topics.ceiling, db.nextIds(n), n, 4), kafka.receiver),
    },
  );

  const natsCeiling = add(
    nats && {
      key: 'ceiling.nats',
      kind: 'ceiling',
      workload: burstName,
      mode: '—',
      sink: `bare nats.js JetStream publish, PubAck each, ${BATCH}/batch, 4 in flight, own process`,
      short: 'bare nats.js',
      primary: 'rate',
      run: () => fromBare('nats', bareJob(nats.servers, `${nats.stream}.ceiling`, db.nextIds(n), n, 4), nats.receiver),
    },
  );

  const mqttCeiling = add(
    mqtt && {
      key: 'ceiling.mqtt',
      kind: 'ceiling',
      workload: burstName,
      mode: '—',
      sink: 'bare MQTT.js, QoS 1, Receive Maximum unacknowledged, own process',
      short: 'bare MQTT.js',
      primary: 'rate',
      run: () => fromBare('mqtt', bareJob(mqtt.url, `${mqtt.prefix}/public/${TABLES.outbox}/insert`, db.nextIds(n), n, 1), mqtt.receiver),
    },
  );

  const redisCeiling = add(
    redis && {
      key: 'ceiling.redis',
      kind: 'ceiling',
      workload: burstName,
      mode: '—',
      sink: `bare node-redis, ${BATCH} XADDs/MULTI, ${REDIS_IN_FLIGHT} in flight, own process`,
      short: 'bare node-redis',
      primary: 'rate',
      run: () => fromBare('redis', bareJob(redis.url, redis.streams.ceiling, db.nextIds(n), n, REDIS_IN_FLIGHT), redis.receiver),
    },
  );

  return {
    insertPlain,
    insertOutbox,
    insertNotify,
    insertWal,
    insertPublished,
    insertDecoded,
    insertRecvlogical,
    walDecode,
    listenBurst,
    undiciSingle,
    undiciBatched,
    amqpCeiling,
    kafkaCeiling,
    amqpSpawnCeiling,
    kafkaSpawnCeiling,
    natsCeiling,
    mqttCeiling,
    redisCeiling,
  };
}

/** pgbridge itself: live bursts (notify), backlog drains (outbox), steady rates (both). */
function bridgeScenarios(input: PlanInput, sinks: ReturnType<typeof benchSinks>, ceilings: Ceilings, add: Add) {
  const { scale, ctxFor } = input;
  const n = scale.burst;
  const txn = scale.txnRows;
  const burstName = `${n / 1000}k rows, ${txn}-row txns`;
  const { listenBurst, undiciBatched, undiciSingle, amqpCeiling, kafkaCeiling, natsCeiling, mqttCeiling, redisCeiling } = ceilings;
  const burst = (name: string, sink: SinkSetup | undefined): Scenario | undefined => {
    const key = `burst.notify.${name}`;
    return add(
      sink && {
        key,
        kind: 'burst',
        workload: burstName,
        mode: 'notify',
        sink: sink.label,
        ceiling: listenBurst,
        primary: 'rate',
        run: async () => fromBridge(await liveBurst(ctxFor(key), 'notify', sink, n, txn)),
      },
    );
  };
  const burstBatched = burst('webhook-batched', sinks.batched);
  burst('webhook-single', sinks.single);
  burst('amqp', sinks.amqp);
  burst('kafka', sinks.kafka);
  burst('stdout', sinks.stdout);

  const drainOf = (name: string, sink: SinkSetup | undefined, ceiling: Scenario | undefined, beside?: Scenario): Scenario | undefined => {
    const key = `drain.outbox.${name}`;
    return add(
      sink && {
        key,
        kind: 'drain',
        workload: `${n / 1000}k backlog, drain`,
        mode: 'outbox',
        sink: sink.label,
        ceiling,
        beside: group(beside),
        primary: 'rate',
        run: async () => fromBridge(await drain(ctxFor(key), 'outbox', sink, n, txn)),
      },
    );
  };
  drainOf('webhook-batched', sinks.batched, undiciBatched);
  const drainSingle = drainOf('webhook-single', sinks.single, undiciSingle);
  const drainAmqp = drainOf('amqp', sinks.amqp, amqpCeiling, ceilings.amqpSpawnCeiling);
  const drainKafka = drainOf('kafka', sinks.kafka, kafkaCeiling, ceilings.kafkaSpawnCeiling);
  const drainNats = drainOf('nats', sinks.nats, natsCeiling);
  const drainMqtt = drainOf('mqtt', sinks.mqtt, mqttCeiling);
  const drainStdout = drainOf('stdout', sinks.stdout, undefined);
  const drainRedis = drainOf('redis', sinks.redis, redisCeiling);

  /** wal mode drains: ratio against the sink's bare client (the bare decoder for stdout), beside outbox mode and the bare decoder. */
  const walDrainOf = (
    name: string,
    sink: SinkSetup | undefined,
    ceiling: Scenario | undefined,
    outbox: Scenario | undefined,
  ): Scenario | undefined => {
    const key = `drain.wal.${name}`;
    return add(
      sink &&
        input.replication && {
          key,
          kind: 'drain',
          workload: `${n / 1000}k backlog, drain`,
          mode: 'wal',
          sink: sink.label,
          ceiling,
          beside: group(outbox, ceiling === ceilings.walDecode ? undefined : ceilings.walDecode),
          primary: 'rate',
          run: async () => fromBridge(await drain(ctxFor(key), 'wal', sink, n, txn)),
        },
    );
  };
  const walStdout = walDrainOf('stdout', sinks.stdout, ceilings.walDecode, drainStdout);
  const walKafka = walDrainOf('kafka', sinks.kafka, kafkaCeiling, drainKafka);
  const walAmqp = walDrainOf('amqp', sinks.amqp, amqpCeiling, drainAmqp);

  const steadyOf = (mode: Mode, name: string, sink: SinkSetup, rate: number, rowsPerTxn: number): Scenario | undefined => {
    const key = `steady.${mode}.${name}.${rate}x${rowsPerTxn}`;
    if (mode === 'wal' && !input.replication) return undefined;
    return add({
      key,
      kind: 'steady',
      workload: `${rate} ev/s × ${scale.steadyS} s, ${rowsPerTxn}-row txns`,
      mode,
      sink: sink.label,
      ceiling: { name: 'offered', rate },
      primary: 'p99',
      run: async () => {
        const m = await steady(ctxFor(key), mode, sink, rate, rowsPerTxn, scale.steadyS, scale.steadyWarmS);
        return fromBridge(m, { achievedInsertRate: m.achievedInsertRate, warmup: m.warmup });
      },
    });
  };
  const steadyNotify = steadyOf('notify', 'webhook-single', sinks.single, 1000, 1);
  const steadyOutbox = steadyOf('outbox', 'webhook-single', sinks.single, 1000, 1);
  const steadyWal = steadyOf('wal', 'webhook-single', sinks.single, 1000, 1);
  steadyOf('notify', 'webhook-batched', sinks.batched, 5000, 10);
  steadyOf('outbox', 'webhook-batched', sinks.batched, 5000, 10);

  return {
    burstBatched,
    drainSingle,
    drainAmqp,
    drainKafka,
    drainNats,
    drainMqtt,
    drainRedis,
    steadyNotify,
    steadyOutbox,
    steadyWal,
    walStdout,
    walKafka,
    walAmqp,
  };
}

/** Repeated after the first pass while the budget lasts, cheapest and noisiest first: a ceiling and its pgbridge run go together. */
function repeatGroups(c: Ceilings, r: BridgeRuns): Scenario[][] {
  return [
    group(c.listenBurst, r.burstBatched),
    group(c.amqpCeiling, c.amqpSpawnCeiling, r.drainAmqp),
    group(c.kafkaCeiling, c.kafkaSpawnCeiling, r.drainKafka),
    group(c.natsCeiling, r.drainNats),
    group(c.mqttCeiling, r.drainMqtt),
    group(r.steadyNotify),
    group(r.steadyOutbox),
    group(c.undiciSingle, r.drainSingle),
    group(c.redisCeiling, r.drainRedis),
    group(c.walDecode, r.walStdout),
    group(r.steadyWal),
    group(r.walKafka),
    group(r.walAmqp),
  ].filter((g) => g.length > 0);
}

/** The goals of the open issues: #17 (webhook, AMQP, Kafka, notify, p99s, trigger), #15 (NATS, MQTT, Redis), #13 (wal). */
function targetSpecs(n: number, c: Ceilings, r: BridgeRuns): TargetSpec[] {
  return [
    {
      name: 'notify → batched webhook vs bare LISTEN',
      scenario: r.burstBatched,
      figure: 'ratio',
      unit: 'x',
      op: '>=',
      threshold: 0.7,
      detail: 'burst, insert start → last event at the receiver, both',
    },
    {
      name: 'outbox → amqp drain vs bare confirm publisher',
      scenario: r.drainAmqp,
      figure: 'ratio',
      unit: 'x',
      op: '>=',
      threshold: 0.8,
      detail: 'drain from spawn vs publish start, both to the consumer',
    },
    {
      name: 'outbox → nats drain vs bare JetStream publisher',
      scenario: r.drainNats,
      figure: 'ratio',
      unit: 'x',
      op: '>=',
      threshold: 0.7,
      detail: 'both from spawn (bare client in its own process), PubAck each, to the consumer',
    },
    {
      name: 'outbox → kafka drain vs bare producer',
      scenario: r.drainKafka,
      figure: 'ratio',
      unit: 'x',
      op: '>=',
      threshold: 0.8,
      detail: 'drain from spawn vs first send, both to the consumer',
    },
    {
      name: 'outbox → mqtt drain vs bare MQTT.js publisher',
      scenario: r.drainMqtt,
      figure: 'ratio',
      unit: 'x',
      op: '>=',
      threshold: 0.7,
      detail: 'both from spawn (bare client in its own process), QoS 1, to the subscriber',
    },
    {
      name: 'outbox → redis drain vs bare node-redis',
      scenario: r.drainRedis,
      figure: 'ratio',
      unit: 'x',
      op: '>=',
      threshold: 0.7,
      detail: 'both from spawn (bare client in its own process), to an XREAD consumer',
    },
    {
      name: 'webhook single events vs bare undici (same concurrency)',
      scenario: r.drainSingle,
      figure: 'ratio',
      unit: 'x',
      op: '>=',
      threshold: 0.8,
      detail: `outbox drain, ${WEBHOOK_IN_FLIGHT} in flight both`,
    },
    {
      name: 'commit → webhook p99, 1,000 ev/s, notify',
      scenario: r.steadyNotify,
      figure: 'p99',
      unit: 'ms',
      op: '<=',
      threshold: 10,
      detail: 'single-row txns, webhook single',
    },
    {
      name: 'commit → webhook p99, 1,000 ev/s, outbox',
      scenario: r.steadyOutbox,
      figure: 'p99',
      unit: 'ms',
      op: '<=',
      threshold: 20,
      detail: 'single-row txns, webhook single',
    },
    {
      name: 'wal → stdout drain vs bare replication consumer',
      scenario: r.walStdout,
      figure: 'ratioAfterFirst',
      unit: 'x',
      op: '>=',
      threshold: 0.7,
      detail: 'same backlog in a fresh slot each; first → last event, both (from spawn: see the table)',
    },
    {
      name: 'commit → webhook p99, 1,000 ev/s, wal',
      scenario: r.steadyWal,
      figure: 'p99',
      unit: 'ms',
      op: '<=',
      threshold: 25,
      detail: 'single-row txns, webhook single',
    },
    {
      name: 'insert rate with wal capture vs none',
      scenario: c.insertWal,
      figure: 'ratio',
      unit: 'x',
      op: '>=',
      threshold: 0.9,
      detail: `${n} rows, 500-row txns, pgbridge streaming on the same cores, median of repeats`,
    },
    {
      name: 'insert rate with outbox trigger vs none',
      scenario: c.insertOutbox,
      figure: 'ratio',
      unit: 'x',
      op: '>=',
      threshold: 0.5,
      detail: `${n} rows, 500-row txns, median of repeats`,
    },
  ];
}
