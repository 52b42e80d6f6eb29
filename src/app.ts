import type { Logger } from 'pino';
import type pg from 'pg';
import { qualifiedName } from './config/table-name.js';
import type { BridgeConfig, SinkConfig } from './config/types.js';
import type { DeliveryStop } from './delivery/inlet.js';
import { SinkRunner, type RunnerStatus } from './delivery/sink-runner.js';
import { StandbySinks } from './delivery/standby-sinks.js';
import { errorMessage } from './errors.js';
import type { Metrics } from './metrics.js';
import { closeEveryConnection, createPool } from './postgres.js';
import type { NewTableHooks } from './held-new-tables.js';
import { Router } from './router.js';
import { outboxTable } from './schema/outbox.js';
import { createSink, preloadSinkModules } from './sinks/create.js';
import { notCheckedOnStandby } from './sinks/registry.js';
import { ScrubbedSink } from './sinks/scrubbed-sink.js';
import type { Sink } from './sinks/sink.js';
import type { Scrubber } from './secrets.js';
import { DeadLetterWriter } from './source/dead-letters.js';
import { sampleGauges } from './source/gauges.js';
import { LeaderLock } from './source/leader-lock.js';
import type { Source } from './source/source.js';
import { sources } from './source/sources.js';

/** What `status` and the console read of the running bridge. */
/** After shutdown_timeout_ms, what delivery confirmed is still written (the outbox's progress): connections are closed only after this. */
const STOP_WRITES_GRACE_MS = 1000;

export interface BridgeStatus {
  /**
   * standby: another instance holds the delivery lock (or this one is still
   * waiting for it); disconnected: this one has no Postgres connection, so it
   * delivers nothing and cannot tell whether another one does.
   */
  readonly role: 'delivering' | 'standby' | 'disconnected';
  readonly sinks: ReadonlyMap<string, RunnerStatus>;
}

export interface Readiness {
  readonly ready: boolean;
  readonly components: Record<string, string>;
}

/** What runs while this instance holds the lock. */
interface Delivering {
  readonly source: Source;
  readonly runners: readonly SinkRunner[];
}

/**
 * The composition root: the configured source → one runner per sink, while
 * this instance holds the delivery lock; standing by while another does.
 */
export class Bridge {
  private readonly stopping = new AbortController();
  private readonly table: string;
  private pool: pg.Pool | undefined;
  private active: Delivering | undefined;
  /** While another instance holds the lock: this one's sinks, checked but never sent to. */
  private standby: StandbySinks | undefined;
  private main: Promise<void> | undefined;
  private readonly lock: LeaderLock;
  /** When a requested stop must be over (shutdown_timeout_ms after the signal). */
  private stopDeadline: number | undefined;
  /** This class's own lines; the parts it builds get their own component. */
  private readonly log: Logger;
  /** Settles with the reason when the bridge cannot go on (no session of its own, say); never while it runs. */
  readonly failed: Promise<Error>;
  private fail: (err: Error) => void = () => {};
  /** Settles with the config file's new contents when delivery must go on with them (see HeldNewTables). */
  readonly restart: Promise<BridgeConfig>;
  private restartWith: (config: BridgeConfig) => void = () => {};

  constructor(
    private readonly config: BridgeConfig,
    private readonly logger: Logger,
    private readonly metrics: Metrics,
    private readonly scrubber: Scrubber,
    private readonly reread: NewTableHooks['reread'],
  ) {
    this.table = outboxTable(config.instance);
    this.log = logger.child({ component: 'bridge' });
    this.lock = new LeaderLock(config, logger.child({ component: 'lock' }));
    this.failed = new Promise((resolve) => (this.fail = resolve));
    this.restart = new Promise((resolve) => (this.restartWith = resolve));
  }

  start(): void {
    this.log.info(
      {
        delivery: this.config.delivery,
        instance: this.config.instance,
        capture: this.config.capture.map((t) => `${qualifiedName(t)} (${[...t.ops].join(',')})`),
        channels: this.config.channels,
        sinks: this.config.sinks.map((s) => `${s.name} (${s.type}, ${s.format})`),
        routes: this.config.routes === null ? 'every event to every sink' : this.config.routes.length,
      },
      'pgbridge starting',
    );
    this.main = this.run().catch((err: unknown) => this.fail(err instanceof Error ? err : new Error(String(err))));
    // run() has asked for its Postgres connections by now: the sinks' client libraries load
    // while Postgres answers and the lock is taken, not after it (nothing connects to a sink here).
    preloadSinkModules(this.config.sinks);
  }

  /**
   * Ready when Postgres and every sink are connected (and the source runs),
   * the standby's own sinks included: a ready standby can take over at once.
   * The role is informational, never a reason to be not ready.
   */
  readiness(): Readiness {
    const components: Record<string, string> = {};
    const active = this.active;
    components.postgres = this.lock.connected ? 'ok' : 'not connected';
    components.role = active ? 'ok' : this.lock.connected ? 'ok (standby: another instance delivers)' : 'ok (not delivering: no Postgres connection)';
    if (active) Object.assign(components, active.source.readiness());
    const sinks = active ? active.runners.map((r) => r.sink) : this.standby?.sinks;
    for (const sink of this.config.sinks) {
      const unchecked = !active && this.standby !== undefined ? notCheckedOnStandby(sink) : undefined;
      components[`sink:${sink.name}`] = unchecked === undefined ? 'not checked yet' : `ok (not checked while standing by: ${unchecked})`;
    }
    for (const sink of sinks ?? []) components[`sink:${sink.name}`] = sink.isReady() ? 'ok' : 'not connected';
    return { ready: Object.values(components).every((v) => v.startsWith('ok')), components };
  }

  status(): BridgeStatus {
    const runners = this.active?.runners ?? [];
    const role = this.active ? 'delivering' : this.lock.connected ? 'standby' : 'disconnected';
    return { role, sinks: new Map(runners.map((r) => [r.name, r.status()])) };
  }

  async stop(): Promise<void> {
    this.stopDeadline = Date.now() + this.config.shutdownTimeoutMs;
    this.stopping.abort();
    // A query on a connection that stopped answering would hold the stop until the hard exit; what is written after the deadline takes milliseconds.
    const unanswered = setTimeout(closeEveryConnection, this.config.shutdownTimeoutMs + STOP_WRITES_GRACE_MS);
    unanswered.unref();
    await this.main;
    clearTimeout(unanswered);
    await this.pool?.end().catch(() => {});
  }

  private async run(): Promise<void> {
    const pool = createPool(this.config, 'outbox', { max: this.config.sinks.length + 3 });
    this.pool = pool;
    pool.on('error', (err) => this.log.warn({ err: errorMessage(err) }, 'idle Postgres connection lost'));
    const stopGauges = sampleGauges(pool, this.table, this.metrics);
    const deadLetters = new DeadLetterWriter(pool, this.config.instance, this.logger.child({ component: 'outbox' }));
    const routes = new Router(
      this.config.routes,
      this.config.sinks.map((s) => s.name),
    );
    // Set when delivery stopped because the lock's connection was lost: the next phase's listener ends an outage.
    let notListeningSince: number | undefined;
    try {
      while (!this.stopping.signal.aborted) {
        const held = await this.lock.acquire(this.stopping.signal, () => this.standBy());
        await this.stopStandingBy();
        if (!held) break;
        const runners = this.config.sinks.map((sinkConfig) => this.runner(sinkConfig, held.database));
        const source = sources[this.config.delivery]({
          config: this.config,
          pool,
          table: this.table,
          inlets: runners,
          routes,
          newTables: { reread: this.reread, restart: this.restartWith },
          deadLetters,
          logger: this.logger,
          metrics: this.metrics,
          notListeningSince,
        });
        this.active = { source, runners };
        runners.forEach((r) => r.keepConnected());
        // A stop asked for while the lock was taken or the source started has fired its event already.
        let onStop = (): void => {};
        const stopped = new Promise<'stopped'>((resolve) => {
          onStop = () => resolve('stopped');
          if (this.stopping.signal.aborted) onStop();
          else this.stopping.signal.addEventListener('abort', onStop, { once: true });
        });
        // Watched while the source starts too: a start query on a connection that stopped answering never ends unless the lock's loss closes every connection.
        const started = source.start();
        const why = await Promise.race([held.lost, stopped, started.then(() => Promise.race([held.lost, stopped]))]);
        this.stopping.signal.removeEventListener('abort', onStop); // one per lost lock would pile up
        if (why !== 'stopped') {
          this.log.warn('lost the delivery lock (Postgres connection); stopping delivery and standing by');
          notListeningSince = Date.now();
          if (why === 'unanswered') closeEveryConnection();
        }
        // Had the start failed first, the race would have thrown; failing now, it failed for the loss or the stop (its connections closed).
        await started.catch((err: unknown) => this.log.warn({ err: errorMessage(err) }, 'delivery start cut short'));
        await source.stop(this.deliveryStop(runners, this.stopDeadline ?? Date.now() + this.config.shutdownTimeoutMs));
        this.active = undefined;
        await this.lock.release();
      }
    } finally {
      await this.stopStandingBy();
      stopGauges();
    }
  }

  /** Connects this instance's sinks while another delivers, so that /readyz checks them too. */
  private standBy(): void {
    if (this.standby !== undefined) return;
    this.log.info('checking every sink while standing by (nothing is sent to them)');
    // A standby never formats an event: the database name events carry is not needed.
    const checked = this.config.sinks.filter((sink) => notCheckedOnStandby(sink) === undefined);
    this.standby = new StandbySinks(checked, (sinkConfig) => this.sink(sinkConfig, ''), this.logger.child({ component: 'sink' }));
  }

  private async stopStandingBy(): Promise<void> {
    const standby = this.standby;
    this.standby = undefined;
    await standby?.close();
  }

  private runner(sinkConfig: SinkConfig, database: string): SinkRunner {
    return new SinkRunner(this.sink(sinkConfig, database), {
      retry: sinkConfig.retry,
      logger: this.logger.child({ component: 'sink' }),
      metrics: this.metrics,
    });
  }

  private sink(sinkConfig: SinkConfig, database: string): Sink {
    const logger = this.logger.child({ component: 'sink', sink: sinkConfig.name });
    return new ScrubbedSink(createSink(sinkConfig, { logger, format: { database } }), this.scrubber);
  }

  /**
   * Stops every runner by `deadline` (ms since the epoch), leaving time to
   * record what was confirmed: the last progress transaction, the lock and the pool.
   */
  private deliveryStop(runners: readonly SinkRunner[], deadline: number): DeliveryStop {
    const reserve = Math.min(500, Math.max(0, deadline - Date.now()) / 4);
    return {
      deadline,
      stop: async (finishQueued) => {
        const runnersMs = Math.max(0, deadline - reserve - Date.now());
        const unconfirmed = await Promise.all(runners.map((r) => r.stop(runnersMs, finishQueued)));
        return new Map(runners.map((r, i) => [r.name, unconfirmed[i]]));
      },
    };
  }
}
