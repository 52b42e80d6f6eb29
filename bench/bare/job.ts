/**
 * What a bare client process is told (argv[2], JSON) and what it answers on
 * stdout (one JSON line) once every publish is confirmed. It imports no
 * client library: each bare client is its own bundle and loads only its own.
 */
export interface BareJob {
  /** nats: host:port; mqtt, redis: URL. */
  readonly server: string;
  /** NATS subject, MQTT topic or Redis stream key. */
  readonly destination: string;
  /** The captured table the events are of ("bench_outbox"). */
  readonly table: string;
  readonly firstId: number;
  readonly count: number;
  /** Events per pipelined batch (NATS, Redis MULTI). */
  readonly batch: number;
  /** Batches in flight (NATS, Redis); MQTT takes the broker's Receive Maximum. */
  readonly inFlight: number;
}

export interface BareReport {
  /** CLOCK_MONOTONIC ms (as the bench's monoMs) of the first publish, after loading the library and connecting. */
  readonly firstPublishAt: number;
  /** The whole process's CPU seconds, startup included (as a drain's bridge is counted). */
  readonly cpuS: number;
}

export const monoMs = (): number => Number(process.hrtime.bigint()) / 1e6;

/** Runs `publishAll` on the job from argv and prints the report. */
export async function runBare(publishAll: (job: BareJob) => Promise<number>): Promise<void> {
  const job = JSON.parse(process.argv[2]) as BareJob;
  const firstPublishAt = await publishAll(job);
  const { user, system } = process.cpuUsage();
  const report: BareReport = { firstPublishAt, cpuS: (user + system) / 1e6 };
  process.stdout.write(JSON.stringify(report) + '\n');
}
