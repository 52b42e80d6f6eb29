import type { Logger } from 'pino';
import type pg from 'pg';
import type { BridgeConfig } from '../../config/types.js';
import { backoffDelay, sleep } from '../../delivery/backoff.js';
import type { Envelope, Outcome } from '../../delivery/envelope.js';
import type { BridgeEvent, RowChangeEvent } from '../../event.js';
import { errorMessage } from '../../errors.js';
import type { Metrics } from '../../metrics.js';
import { clientConfig, withPooledClient } from '../../postgres.js';
import { endStrandedSessions } from '../../stranded-sessions.js';
import { AckTracker, type TrackedTransaction } from './ack-tracker.js';
import { FullXid } from './full-xid.js';
import { formatLsn, type Lsn } from './lsn.js';
import { decodePgOutput, type PgOutputMessage } from './pgoutput.js';
import { ReplicationStream } from './replication-stream.js';
import { TransactionAssembler } from './transaction-assembler.js';
import { HEARTBEAT_PREFIX } from '../../schema/wal-messages.js';
import { OnceLog } from './once-log.js';
import { TypeCatalog } from './type-catalog.js';
import { slotState } from './slot-state.js';
import { CapturedRelations } from './captured-relations.js';

/**
 * Where the WAL source hands its events: the sinks an event is routed to,
 * room in each, and a per-delivery settle callback (delivered or dead; a dead
 * letter must be stored before it counts as settled). A sink that cannot take
 * events (failing, or stalled with its queue full) gets them in the outbox
 * table instead, so that the stream goes on for the other sinks.
 */
export interface WalInlet {
  /** null: the event is held (see Routes): its transaction is never confirmed. */
  sinksFor(event: BridgeEvent): readonly string[] | null;
  hasRoom(sink: string): boolean;
  /** Resolves when the sink can take one more event. */
  waitForRoom(sink: string): Promise<void>;
  /** False while the sink's last attempt failed (it retries). */
  delivering(sink: string): boolean;
  /** Whether any sink but this one delivers (one the stream would hold up by waiting). */
  othersDelivering(sink: string): boolean;
  push(sink: string, envelope: Envelope): void;
  /** Whether the sink's new events go to the outbox table (until its reader caught up with them). */
  spilling(sink: string): boolean;
  /** Writes the event to the outbox table for the sink; `written` once it is committed there. */
  spill(sink: string, event: BridgeEvent, written: () => void): void;
  /** While the table writes fall behind: resolves once they caught up. */
  spillBehind(): Promise<void> | undefined;
  /** Stores the dead letter, retrying until it is stored; then calls `stored`. */
  storeDeadLetter(sink: string, event: BridgeEvent, outcome: Extract<Outcome, { kind: 'dead' }>, stored: () => void): void;
}

/** Buffered pgoutput messages before the socket is paused (backpressure reaches the walsender through TCP). */
const HIGH_WATER = 2000;
const LOW_WATER = 200;
const RECONNECT = { initial_ms: 200, max_ms: 10_000, max_attempts: 0 };
/**
 * A full sink that has taken no event for this long while the stream waits for
 * it counts as stalled (a send hanging until its timeout, say): its events go
 * to the outbox table. A sink that delivers frees room at every batch.
 */
const STALL_MS = 2000;
/** How often a wait for room looks whether the sink failed or stalled meanwhile. */
const CHECK_MS = 10;
/** Dead letters waiting to be stored before the stream waits: a bulk UPDATE of rows without their old row makes one per row. */
const MAX_STORING = 1000;

/** A decoded message, or why decoding failed (the stream then ends, and starts again from the slot). */
type Item = PgOutputMessage | Error;

/**
 * `delivery: wal`: reads the slot, turns pgoutput into events, and moves the
 * slot's confirmed position only past transactions every routed sink settled
 * (AckTracker). Reconnects with backoff when the stream is lost; never creates
 * the slot itself (a missing slot would silently skip changes: install does it).
 */
export class WalSource {
  private stopped = false;
  private readonly stopSignal = new AbortController();
  private loop: Promise<void> | undefined;
  private stream: ReplicationStream | undefined;
  private tracker: AckTracker | undefined;
  private assembler: TransactionAssembler | undefined;
  private items = new MessageQueue();
  /**
   * Row changes and channel messages (pg_logical_emit_message) counted for
   * pgbridge_events_captured_total, added in bulk (a counter per event costs more than the event).
   */
  private readonly captured = { rows: 0, channel: 0 };
  private busy = false;
  private wake: (() => void) | undefined;
  private received: Lsn = 0n;
  private paused = false;
  private statusDue = false;
  private problem = 'not connected yet';
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly types: TypeCatalog;
  private readonly relations: CapturedRelations;
  private readonly xids = new FullXid(0n);
  /** Outlives each stream: a warning about a table is said once per run, not once per reconnection. */
  private readonly once: OnceLog;
  private storing = 0;
  private roomToStore: (() => void) | undefined;

  constructor(
    private readonly config: BridgeConfig,
    private readonly pool: pg.Pool,
    private readonly inlet: WalInlet,
    private readonly logger: Logger,
    private readonly metrics: Metrics,
  ) {
    this.types = new TypeCatalog(() => pool.connect());
    this.once = new OnceLog(logger);
    this.relations = new CapturedRelations(config.capture);
  }

  /** 'ok' while streaming, else why not (for /readyz). */
  get state(): string {
    return this.stream?.isStreaming ? 'ok' : `not streaming: ${this.problem}`;
  }

  start(): void {
    this.loop = this.run();
    this.timers.push(setInterval(() => this.sendStatus(false), this.config.wal.statusIntervalMs).unref());
    this.timers.push(setInterval(() => void this.heartbeat(), this.config.wal.heartbeatIntervalMs).unref());
    void this.sampleLag();
  }

  /** Takes no new changes; deliveries in flight may still settle and be confirmed by close(). */
  stopIntake(): void {
    this.stopped = true;
    this.stopSignal.abort();
    this.stream?.pause();
    this.wake?.();
  }

  /** Confirms what settled and ends the stream. */
  async close(): Promise<void> {
    this.stopIntake();
    this.timers.forEach((t) => clearInterval(t));
    this.sendStatus(false);
    await this.stream?.close();
    await this.loop;
  }

  private async run(): Promise<void> {
    for (let attempt = 1; !this.stopped; attempt++) {
      let stream: ReplicationStream | undefined;
      try {
        // A stream closed for not answering may still hold the slot on the server (until its wal_sender_timeout): ended first.
        await withPooledClient(this.pool, (db) => endStrandedSessions(db, this.logger));
        await withPooledClient(this.pool, (db) => this.relations.resolve(db));
        const slot = await slotState(this.pool, this.config.wal.slot);
        // A close() while the slot was read found no stream to end: none may start now.
        if (this.stopped) break;
        this.xids.update(slot.nextXid);
        const tracker = new AckTracker(slot.confirmed, () => this.statusSoon());
        this.tracker = tracker;
        this.received = slot.confirmed;
        this.assembler = new TransactionAssembler(
          this.relations,
          new Set(this.config.channels),
          this.types,
          () => this.pool.connect(),
          tracker,
          this.xids,
          {
            emit: (event, tx) => this.emit(event, tx),
            deadLetter: (event, tx, error) => this.deadLetterAtSinks(event, tx, error),
            idlePosition: (lsn) => this.idleAt(lsn),
            log: this.once,
          },
          this.config.wal.publication,
          this.config.instance,
        );
        stream = new ReplicationStream(clientConfig(this.config, 'replication'), {
          onData: (walStart, body) => this.onData(walStart, body),
          onKeepalive: (walEnd, reply) => this.onKeepalive(walEnd, reply),
        });
        this.stream = stream;
        const { ended } = await stream.start(this.config.wal.slot, this.config.wal.publication);
        this.problem = '';
        attempt = 0;
        this.logger.info(
          { slot: this.config.wal.slot, publication: this.config.wal.publication, from: formatLsn(slot.confirmed) },
          'streaming changes from the replication slot',
        );
        const processing = this.process(stream, this.assembler);
        await Promise.race([ended, processing]);
        if (!this.stopped) throw new Error('replication stream ended');
      } catch (err) {
        if (this.stopped) break;
        this.problem = errorMessage(err);
        const delay = backoffDelay(Math.max(1, attempt), RECONNECT);
        // Errors a retry cannot mend by itself (slot gone or invalidated by max_slot_wal_keep_size, wal_level) are errors, not warnings.
        const fatal = /does not exist|wal_level|no longer|invalidated/.test(this.problem);
        (fatal ? this.logger.error : this.logger.warn).call(
          this.logger,
          { slot: this.config.wal.slot, err: this.problem, retry_in_ms: delay },
          'replication stream failed',
        );
        await sleep(delay, this.stopSignal.signal);
      } finally {
        this.assembler?.abandon();
        this.items.clear();
        if (this.stream === stream) await stream?.close();
      }
    }
  }

  private onData(walStart: Lsn, body: Buffer): void {
    if (walStart > this.received) this.received = walStart;
    // Decoded at once: the strings it yields outlive pg's read buffer, which is reused for the next read.
    let item: Item;
    try {
      item = decodePgOutput(body);
    } catch (err) {
      item = err instanceof Error ? err : new Error(String(err));
    }
    this.items.push(item);
    if (this.items.length >= HIGH_WATER && !this.paused) {
      this.paused = true;
      this.stream?.pause();
    }
    this.wake?.();
  }

  private onKeepalive(walEnd: Lsn, replyRequested: boolean): void {
    if (walEnd > this.received) this.received = walEnd;
    this.idleAt(walEnd);
    if (replyRequested) this.sendStatus(false);
  }

  /** Nothing received is still unprocessed or undelivered: the slot may move to `lsn`. */
  private idleAt(lsn: Lsn): void {
    if (this.items.length === 0 && !this.busy && !this.assembler?.inTransaction) this.tracker?.passIdle(lsn);
  }

  /** Decodes and assembles in order; a failure ends this stream (the next one starts again from the slot). */
  private async process(stream: ReplicationStream, assembler: TransactionAssembler): Promise<never> {
    for (;;) {
      while (this.items.length === 0) {
        if (this.stopped || this.stream !== stream) return new Promise<never>(() => {});
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = undefined;
      }
      if (this.stopped || this.stream !== stream) return new Promise<never>(() => {});
      const item = this.items.shift();
      this.busy = true;
      try {
        if (item instanceof Error) throw item;
        const waiting = assembler.handle(item);
        if (waiting) await waiting;
      } finally {
        this.busy = false;
      }
      if (this.items.length === 0) this.countCaptured();
      if (this.paused && this.items.length <= LOW_WATER && !this.stopped) {
        this.paused = false;
        stream.resume();
      }
    }
  }

  /**
   * Synchronous while every routed sink has room or spills; waits
   * (backpressure) only while a full sink delivers, or the spill's writes fall behind.
   */
  private emit(event: BridgeEvent, tx: TrackedTransaction): void | Promise<void> {
    const sinks = this.inlet.sinksFor(event);
    if (sinks === null) return this.holdBack(tx);
    if (sinks.length === 0) return;
    this.count(event.kind === 'channel' ? 'channel' : 'rows');
    for (let i = 0; i < sinks.length; i++) {
      const sink = sinks[i];
      if (this.inlet.spilling(sink)) this.spillTo(sink, event, tx);
      else if (this.inlet.hasRoom(sink)) this.pushTo(sink, event, tx);
      else return this.emitWaiting(event, tx, sinks.slice(i));
    }
    return this.inlet.spillBehind();
  }

  private async emitWaiting(event: BridgeEvent, tx: TrackedTransaction, sinks: readonly string[]): Promise<void> {
    for (const sink of sinks) {
      const spill = this.inlet.spilling(sink) || (!this.inlet.hasRoom(sink) && (await this.failsWhileFull(sink)));
      if (this.stopped) return;
      if (spill) this.spillTo(sink, event, tx);
      else this.pushTo(sink, event, tx);
    }
    await this.inlet.spillBehind();
  }

  /**
   * Waits for room in a full sink; true (spill instead) once it fails, or
   * takes nothing for STALL_MS, while another sink delivers. With no other
   * sink to hold up, the stream waits and the slot keeps the events.
   */
  private failsWhileFull(sink: string): Promise<boolean> {
    return new Promise((resolve) => {
      const stalledAt = Date.now() + STALL_MS;
      const finish = (spill: boolean): void => {
        clearInterval(check);
        resolve(spill);
      };
      // One wait for room and one timer, however long the sink stays full (a single sink down for hours).
      const check = setInterval(() => {
        if (this.stopped) return finish(false);
        const stuck = !this.inlet.delivering(sink) || Date.now() >= stalledAt;
        if (stuck && this.inlet.othersDelivering(sink)) finish(true);
      }, CHECK_MS);
      void this.inlet.waitForRoom(sink).then(() => finish(false));
    });
  }

  /** A held event: one delivery that never settles, so the slot stays before its transaction for the next stream. */
  private holdBack(tx: TrackedTransaction): void {
    this.tracker!.hold(tx);
  }

  private pushTo(sink: string, event: BridgeEvent, tx: TrackedTransaction): void {
    const tracker = this.tracker!;
    tracker.hold(tx);
    this.inlet.push(sink, new WalEnvelope(event, sink, tx, tracker, this));
  }

  /** In the outbox table, the event is settled for this sink: its outbox reader delivers it. */
  private spillTo(sink: string, event: BridgeEvent, tx: TrackedTransaction): void {
    const tracker = this.tracker!;
    tracker.hold(tx);
    this.inlet.spill(sink, event, () => tracker.settle(tx));
  }

  private count(kind: 'rows' | 'channel'): void {
    if (++this.captured[kind] >= 500) this.countCaptured();
  }

  private countCaptured(): void {
    const { rows, channel } = this.captured;
    if (rows > 0) this.metrics.eventsCaptured.inc({ source: 'wal' }, rows);
    if (channel > 0) this.metrics.eventsCaptured.inc({ source: 'channel' }, channel);
    this.captured.rows = 0;
    this.captured.channel = 0;
  }

  /**
   * An event that cannot be built whole (a change without its old row) is a
   * dead letter at every routed sink without being sent, stored as a sink's
   * own are; the stream waits only while too many of them are being stored.
   */
  private deadLetterAtSinks(event: RowChangeEvent, tx: TrackedTransaction, error: string): void | Promise<void> {
    const sinks = this.inlet.sinksFor(event);
    if (sinks === null) return this.holdBack(tx);
    if (sinks.length === 0) return;
    this.count('rows');
    const tracker = this.tracker!;
    for (const sink of sinks) {
      tracker.hold(tx);
      this.metrics.deliveries.inc({ sink, outcome: 'dead_lettered' });
      this.metrics.deadLetters.inc({ sink });
      this.deadLetter(sink, event, { kind: 'dead', error, attempts: 0 }, () => tracker.settle(tx));
    }
    if (this.storing < MAX_STORING) return;
    return new Promise<void>((resolve) => {
      this.roomToStore = () => {
        this.roomToStore = undefined;
        resolve();
      };
    });
  }

  /** A dead letter counts as settled only once stored; until then the slot keeps the transaction. */
  deadLetter(sink: string, event: BridgeEvent, outcome: Extract<Outcome, { kind: 'dead' }>, settle: () => void): void {
    this.storing++;
    this.inlet.storeDeadLetter(sink, event, outcome, () => {
      settle();
      if (--this.storing < MAX_STORING / 2) this.roomToStore?.();
    });
  }

  /** Status updates are coalesced: one per tick however many transactions were confirmed. */
  private statusSoon(): void {
    if (this.statusDue) return;
    this.statusDue = true;
    setTimeout(() => {
      this.statusDue = false;
      this.sendStatus(false);
    }, 20).unref();
  }

  private sendStatus(replyRequested: boolean): void {
    const tracker = this.tracker;
    if (!tracker) return;
    const flushed = tracker.confirmed;
    this.stream?.sendStatus(this.received > flushed ? this.received : flushed, flushed, replyRequested);
  }

  /** An idle slot still moves: a non-transactional message gives the stream a position to confirm. */
  private async heartbeat(): Promise<void> {
    await this.sampleLag();
    if (!this.stream?.isStreaming || !this.tracker?.idle || this.items.length > 0) return;
    try {
      await this.pool.query('SELECT pg_logical_emit_message(false, $1, $2)', [HEARTBEAT_PREFIX, '']);
      this.sendStatus(true);
    } catch (err) {
      this.logger.debug({ err: errorMessage(err) }, 'heartbeat failed');
    }
  }

  private async sampleLag(): Promise<void> {
    try {
      const { rows } = await this.pool.query<{ lag: string | null; next: string }>(
        `SELECT (SELECT (pg_current_wal_lsn() - confirmed_flush_lsn)::bigint::text FROM pg_replication_slots WHERE slot_name = $1) AS lag,
                pg_snapshot_xmax(pg_current_snapshot())::text AS next`,
        [this.config.wal.slot],
      );
      if (rows[0].lag !== null) this.metrics.replicationLag.set(Math.max(0, Number(rows[0].lag)));
      this.xids.update(BigInt(rows[0].next));
    } catch {
      // Postgres unreachable: /readyz says so.
    }
  }
}

/** One event on its way to one sink: settles its transaction's delivery (one object per delivery, no closure). */
class WalEnvelope implements Envelope {
  constructor(
    readonly event: BridgeEvent,
    private readonly sink: string,
    private readonly tx: TrackedTransaction,
    private readonly tracker: AckTracker,
    private readonly source: WalSource,
  ) {}

  settle(outcome: Outcome): void {
    if (outcome.kind === 'delivered') this.tracker.settle(this.tx);
    else this.source.deadLetter(this.sink, this.event, outcome, () => this.tracker.settle(this.tx));
  }
}

/** Decoded messages waiting for the assembler: O(1) at both ends, compacted when half is taken. */
class MessageQueue {
  private items: Item[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: Item): void {
    this.items.push(item);
  }

  shift(): Item {
    const item = this.items[this.head++];
    if (this.head === this.items.length) this.clear();
    else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  clear(): void {
    this.items = [];
    this.head = 0;
  }
}
