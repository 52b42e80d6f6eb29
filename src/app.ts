import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import pg from 'pg';
import { qualifiedName } from './config/table-name.js';
import type { BridgeConfig } from './config/types.js';
import { insertDeadLetters } from './delivery/dead-letters.js';
import type { Envelope } from './delivery/envelope.js';
import { SinkRunner, type RunnerStatus } from './delivery/sink-runner.js';
import { nowIso, type BridgeEvent } from './event.js';
import { errorMessage } from './errors.js';
import { outboxTable } from './install/names.js';
import type { Metrics } from './metrics.js';
import { clientConfig, databaseName, inTransaction, withPooledClient } from './postgres.js';
import { Router } from './router.js';
import { createSink } from './sinks/create.js';
import { ScrubbedSink } from './sinks/scrubbed-sink.js';
import type { Sink } from './sinks/sink.js';
import type { Scrubber } from './secrets.js';
import { sampleGauges } from './source/gauges.js';
import { LeaderLock } from './source/leader-lock.js';
import { Listener } from './source/listener.js';
import { parseNotifyPayload } from './source/notify-payload.js';
import { OutboxProgress } from './source/outbox-progress.js';
import { OutboxReader } from './source/outbox-reader.js';
import { sweepStrandedRows } from './source/outbox-sweep.js';
import { vacuumOutbox } from './source/outbox-vacuum.js';
import { assertLogicalWal } from './source/wal/wal-level.js';
import { WalSource } from './source/wal/wal-source.js';

/** Channel messages written to the outbox in one transaction at most. */
const CHANNEL_BATCH = 500;

interface ChannelMessage {
  readonly channel: string;
  readonly payload: string;
}

/** In notify mode memory is the only buffer: past this many events per sink, new ones become dead letters. */
const NOTIFY_MODE_HARD_LIMIT = 100_000;

/** What `status` and the console read of the running bridge. */
export interface BridgeStatus {
  /** standby: another instance holds the delivery lock (or this one is still waiting for it). */
  readonly role: 'delivering' | 'standby';
  readonly sinks: ReadonlyMap<string, RunnerStatus>;
}

export interface Readiness {
  readonly ready: boolean;
  readonly components: Record<string, string>;
}

/**
 * The composition root: Postgres source(s) → router → one runner per sink.
 * Waits for the delivery lock, then delivers until stopped or the lock is lost.
 */
export class Bridge {
  private readonly stopping = new AbortController();
  private readonly table: string;
  private pool: pg.Pool | undefined;
  private active: ActivePhase | undefined;
  private main: Promise<void> | undefined;
  private readonly lock: LeaderLock;
  /** When a requested stop must be over (shutdown_timeout_ms after the signal). */
  private stopDeadline: number | undefined;
  /** This class's own lines; the parts it builds get their own component. */
  private readonly log: Logger;
  /** Settles with the reason when the bridge cannot go on (no session of its own, say); never while it runs. */
  readonly failed: Promise<Error>;
  private fail: (err: Error) => void = () => {};

  constructor(
    private readonly config: BridgeConfig,
    private readonly logger: Logger,
    private readonly metrics: Metrics,
    private readonly scrubber: Scrubber,
  ) {
    this.table = outboxTable(config.instance);
    this.log = logger.child({ component: 'bridge' });
    this.lock = new LeaderLock(config, logger.child({ component: 'lock' }));
    this.failed = new Promise((resolve) => (this.fail = resolve));
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
  }

  readiness(): Readiness {
    const components: Record<string, string> = {};
    const active = this.active;
    // A connected standby is ready: it is exactly what a second replica should be.
    components.postgres = this.lock.connected ? 'ok' : 'not connected';
    components.role = active ? 'ok' : 'ok (standby: another instance delivers)';
    if (active) {
      components.listener = active.listener.connected ? 'ok' : 'not connected';
      if (active.wal) components.replication = active.wal.state;
      for (const runner of active.runners) components[`sink:${runner.name}`] = runner.sink.isReady() ? 'ok' : 'not connected';
    }
    return { ready: Object.values(components).every((v) => v.startsWith('ok')), components };
  }

  status(): BridgeStatus {
    const runners = this.active?.runners ?? [];
    return { role: this.active ? 'delivering' : 'standby', sinks: new Map(runners.map((r) => [r.name, r.status()])) };
  }

  async stop(): Promise<void> {
    this.stopDeadline = Date.now() + this.config.shutdownTimeoutMs;
    this.stopping.abort();
    await this.main;
    await this.pool?.end().catch(() => {});
  }

  private async run(): Promise<void> {
    this.pool = new pg.Pool({ ...clientConfig(this.config, 'outbox'), max: this.config.sinks.length + 3 });
    this.pool.on('error', (err) => this.log.warn({ err: errorMessage(err) }, 'idle Postgres connection lost'));
    const stopGauges = sampleGauges(this.pool, this.table, this.metrics);
    // Set when delivery stopped because the lock's connection was lost: the next phase's listener ends an outage.
    let notListeningSince: number | undefined;
    try {
      if (this.config.delivery === 'wal') await assertLogicalWal(this.pool);
      while (!this.stopping.signal.aborted) {
        const held = await this.lock.acquire(this.stopping.signal);
        if (!held) break;
        const database = await this.database();
        this.active = new ActivePhase(this.config, this.pool, this.table, database, this.logger, this.metrics, this.scrubber, notListeningSince);
        if (this.config.delivery === 'outbox') await this.active.sweep();
        this.active.start();
        const stopped = new Promise<'stopped'>((resolve) => this.stopping.signal.addEventListener('abort', () => resolve('stopped'), { once: true }));
        const why = await Promise.race([held.lost.then(() => 'lost' as const), stopped]);
        if (why === 'lost') {
          this.log.warn('lost the delivery lock (Postgres connection); stopping delivery and standing by');
          notListeningSince = Date.now();
        }
        await this.active.stop(this.stopDeadline ?? Date.now() + this.config.shutdownTimeoutMs);
        this.active = undefined;
        await this.lock.release();
      }
    } finally {
      stopGauges();
    }
  }

  private database(): Promise<string> {
    return withPooledClient(this.pool!, databaseName);
  }
}

/** Everything that runs while this instance holds the lock. */
class ActivePhase {
  readonly runners: SinkRunner[];
  readonly listener: Listener;
  /** wal mode's source; the outbox readers still run for dead letters moved back by `dead-letters retry`. */
  readonly wal: WalSource | undefined;
  private readonly readers: OutboxReader[];
  private readonly progress: OutboxProgress;
  private readonly router: Router;
  private readonly byName: Map<string, SinkRunner>;
  private readonly log: Logger;
  private readonly channelQueue: ChannelMessage[] = [];
  private channelWriter: Promise<void> | undefined;
  private stopVacuum: (() => void) | undefined;

  constructor(
    private readonly config: BridgeConfig,
    private readonly pool: pg.Pool,
    private readonly table: string,
    database: string,
    private readonly logger: Logger,
    private readonly metrics: Metrics,
    scrubber: Scrubber,
    /** When the previous phase lost its connection (undefined on the first phase). */
    private notListeningSince: number | undefined,
  ) {
    this.log = logger.child({ component: 'bridge' });
    const sinkLogger = logger.child({ component: 'sink' });
    this.runners = config.sinks.map((sinkConfig) => {
      const created = createSink(sinkConfig, { logger: sinkLogger.child({ sink: sinkConfig.name }), format: { database } });
      const sink: Sink = new ScrubbedSink(created, scrubber);
      return new SinkRunner(sink, { retry: sinkConfig.retry, logger: sinkLogger, metrics });
    });
    this.byName = new Map(this.runners.map((r) => [r.name, r]));
    this.router = new Router(config.routes, config.sinks.map((s) => s.name));
    this.progress = new OutboxProgress(pool, config.instance, table, logger.child({ component: 'outbox' }));
    const readerOptions = { table, batchSize: config.outbox.batchSize, pollIntervalMs: config.outbox.pollIntervalMs };
    this.readers = this.runners.map(
      (runner) => new OutboxReader(pool, runner, this.router, this.progress, readerOptions, logger.child({ component: 'outbox' }), metrics),
    );
    this.listener = new Listener(config, [config.notifyChannel, ...config.channels], logger.child({ component: 'listener' }), {
      onNotification: (channel, payload) => this.onNotification(channel, payload),
      onConnected: (outage) => this.onConnected(outage),
    });
    if (config.delivery === 'wal') {
      this.wal = new WalSource(
        config,
        pool,
        {
          sinksFor: (event) => this.router.sinksFor(event),
          hasRoom: (sink) => this.byName.get(sink)!.room > 0,
          waitForRoom: (sink) => this.byName.get(sink)!.waitForRoom(),
          push: (sink, event, settle) => this.byName.get(sink)!.push({ event, settle }),
          storeDeadLetter: (sink, event, outcome) =>
            insertDeadLetters(this.pool, this.config.instance, [{ sink, event, error: outcome.error, attempts: outcome.attempts }]),
        },
        logger.child({ component: 'wal' }),
        metrics,
      );
    }
  }

  start(): void {
    this.wal?.start();
    this.listener.start();
    this.readers.forEach((r) => r.start());
    this.stopVacuum = vacuumOutbox(this.pool, [this.table, 'pgbridge.deliveries'], this.logger.child({ component: 'outbox' }));
  }

  /** Clears rows a config change left behind (see sweepStrandedRows); a failure only delays that. */
  async sweep(): Promise<void> {
    const logger = this.logger.child({ component: 'outbox' });
    try {
      const sinks = this.config.sinks.map((s) => s.name);
      const { finished, returned } = await sweepStrandedRows(this.pool, this.table, this.config.instance, this.router, sinks);
      if (finished > 0) logger.info({ events: finished }, 'removed outbox events that every sink routed to them already has (routes changed)');
      if (returned > 0) logger.warn({ events: returned }, 'events replayed to a sink that is no longer configured are back in the dead letters');
    } catch (err) {
      logger.warn({ err: errorMessage(err) }, 'sweeping stranded outbox events failed; will try again at the next start');
    }
  }

  /** Hands back or finishes everything by `deadline` (ms since the epoch), leaving time to record what was confirmed. */
  async stop(deadline: number): Promise<void> {
    const budget = deadline - Date.now();
    // What is left after the runners: the last progress transaction, the lock and the pool.
    const reserve = Math.min(500, Math.max(0, budget) / 4);
    this.wal?.stopIntake();
    this.stopVacuum?.();
    await this.listener.stop();
    if (this.config.delivery === 'notify') {
      this.log.warn('notify mode: stopped listening; row changes committed from now until a pgbridge listens again are lost');
    }
    // Channel messages already received are written to the outbox before delivery stops.
    await this.channelWriter;
    // Readers first (no new pages), runners at the same time: a reader waiting
    // for room in a full runner (a sink down, a backlog) only wakes when its runner stops.
    const readers = Promise.all(this.readers.map((r) => r.stop()));
    const notifyMode = this.config.delivery === 'notify';
    const runnersMs = Math.max(0, deadline - reserve - Date.now());
    await Promise.all(this.runners.map((r) => r.stop(runnersMs, notifyMode)));
    // After the runners: what they confirmed while stopping is confirmed to the slot too.
    await this.wal?.close();
    await readers;
    await this.progress.drain();
  }

  private onConnected(outage: number): void {
    // A phase that follows a lost one starts a fresh listener, whose first connection ends that outage.
    const since = this.notListeningSince;
    this.notListeningSince = undefined;
    const gap = outage > 0 ? outage : since === undefined ? 0 : Math.max(1, Date.now() - since);
    if (this.config.delivery === 'notify') {
      if (gap > 0) {
        this.log.warn({ outage_ms: gap }, 'notify mode: row changes committed while the listener was disconnected are lost (use delivery: outbox to keep them)');
      } else {
        // A restart or a standby's takeover is an outage too, only one this process cannot measure.
        this.log.warn('notify mode: listening from now on; row changes committed while no pgbridge was listening (before this start or takeover) are lost (use delivery: outbox to keep them)');
      }
    }
    this.readers.forEach((r) => r.poke());
  }

  private onNotification(channel: string, payload: string): void {
    if (channel === this.config.notifyChannel) {
      if (this.config.delivery !== 'notify' || payload === '') {
        // Outbox mode trusts no payload: any notification only means "read the table".
        this.readers.forEach((r) => r.poke());
        return;
      }
      const event = parseNotifyPayload(payload);
      if (!event) {
        this.log.warn({ channel, bytes: payload.length }, 'ignoring a notification that is not a pgbridge event');
        return;
      }
      this.metrics.eventsCaptured.inc({ source: 'notify' });
      this.dispatch(event);
      return;
    }
    if (this.config.delivery === 'outbox') {
      this.queueChannelMessage(channel, payload);
      return;
    }
    this.metrics.eventsCaptured.inc({ source: 'channel' });
    this.dispatch({ kind: 'channel', id: randomUUID(), channel, payload, ts: nowIso() });
  }

  /**
   * Outbox mode: a channel message is made durable first, then delivered like a
   * row change. One writer, in arrival order: messages written by concurrent
   * transactions could take their ids, and so their delivery order, in any order.
   */
  private queueChannelMessage(channel: string, payload: string): void {
    this.channelQueue.push({ channel, payload });
    this.channelWriter ??= this.writeChannelMessages().finally(() => (this.channelWriter = undefined));
  }

  private async writeChannelMessages(): Promise<void> {
    while (this.channelQueue.length > 0) {
      const batch = this.channelQueue.splice(0, CHANNEL_BATCH);
      await this.storeChannelMessages(batch);
    }
  }

  private async storeChannelMessages(batch: readonly ChannelMessage[]): Promise<void> {
    const about = { channels: [...new Set(batch.map((m) => m.channel))], messages: batch.length };
    for (let attempt = 1; attempt <= 5; attempt++) {
      try {
        await this.insertChannelRows(batch);
        this.readers.forEach((r) => r.poke());
        return;
      } catch (err) {
        this.log.warn({ ...about, attempt, err: errorMessage(err) }, 'storing channel messages failed');
        await new Promise((r) => setTimeout(r, 200 * attempt));
      }
    }
    this.log.error(about, 'channel messages lost: Postgres did not accept them after 5 attempts');
  }

  /**
   * The transaction takes its xid before the id default calls nextval (in a
   * plain INSERT the default comes first): SettledWater relies on every
   * outbox writer holding an xid before it holds an id.
   */
  private async insertChannelRows(batch: readonly ChannelMessage[]): Promise<void> {
    await inTransaction(this.pool, async (db) => {
      await db.query('SELECT pg_current_xact_id()');
      for (const { channel, payload } of batch) {
        await db.query(`INSERT INTO ${this.table} (channel, payload) VALUES ($1, $2)`, [channel, payload]);
      }
    });
  }

  /** Notify mode: straight to the runners; memory is the only buffer. */
  private dispatch(event: BridgeEvent): void {
    for (const name of this.router.sinksFor(event)) {
      const runner = this.byName.get(name)!;
      const envelope: Envelope = {
        event,
        settle: (outcome) => {
          if (outcome.kind === 'dead') {
            insertDeadLetters(this.pool, this.config.instance, [{ sink: name, event, error: outcome.error, attempts: outcome.attempts }]).catch((err) =>
              this.log.error({ sink: name, id: event.id, err: errorMessage(err) }, 'could not write a dead letter'),
            );
          }
        },
      };
      if (runner.pending >= NOTIFY_MODE_HARD_LIMIT) {
        envelope.settle({ kind: 'dead', error: `sink ${name} has ${runner.pending} events waiting (notify mode keeps them in memory)`, attempts: 0 });
        continue;
      }
      runner.push(envelope);
    }
  }
}
