import type { Logger } from 'pino';
import { errorMessage, PermanentError, RetriableError, tooLargeToEncode } from '../errors.js';
import type { Metrics } from '../metrics.js';
import type { RetryConfig, Sink } from '../sinks/sink.js';
import { backoffDelay, sleep } from './backoff.js';
import type { Envelope, Outcome } from './envelope.js';
import { Fifo } from './fifo.js';
import type { Inlet } from './inlet.js';
import { keepConnected } from './keep-connected.js';
import { laneIndex } from './lane-index.js';

/** What the console and `status` show of a runner (read-only). */
export interface RunnerStatus {
  /** retrying: failing (see failingSince) and connected; down: failing and not connected. */
  readonly state: 'delivering' | 'retrying' | 'down';
  /** Events held in memory (waiting or in flight). */
  readonly queued: number;
  /** Of those, the events only memory holds: not rows of the outbox table too. */
  readonly onlyInMemory: number;
  /**
   * Since when the sink keeps failing (ms since the epoch): from a failed attempt until a delivery, or until
   * a batch is dead-lettered with nothing else held. And the last error (scrubbed by ScrubbedSink).
   */
  readonly failingSince: number | null;
  readonly lastError: string | null;
  /** Commit time (ms since the epoch) of the oldest event held in memory, waiting or in flight; null when none. */
  readonly oldestHeld: number | null;
}

interface Lane {
  readonly queue: Fifo<Envelope>;
  busy: boolean;
  /** The batch being sent (or waiting to be retried), older than anything queued. */
  sending: readonly Envelope[] | undefined;
}

export interface RunnerOptions {
  readonly retry: RetryConfig;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Events held in memory for this sink (queued + in flight) before push() must wait. */
  readonly capacity?: number;
}

/**
 * Feeds one sink: its own queue, in-flight window and retry state, so a slow
 * or failing sink never holds up another. Events are spread over
 * `maxInFlight` lanes by row (or channel): a lane sends one batch at a time,
 * so events of one row are never reordered, while different rows proceed in parallel.
 */
export class SinkRunner implements Inlet {
  readonly capacity: number;
  private readonly lanes: Lane[];
  private queued = 0;
  private onlyInMemory = 0;
  private stopping = false;
  private readonly abort = new AbortController();
  /** Aborted when waiting to retry is pointless: at once on an outbox-mode stop, else with `abort`. */
  private readonly giveUp = new AbortController();
  private connecting: Promise<void> | undefined;
  private roomWaiters: Array<{ readonly atLeast: number; readonly wake: () => void }> = [];
  private idleWaiters: Array<() => void> = [];
  private failingSince: number | null = null;
  private lastError: string | null = null;

  constructor(
    readonly sink: Sink,
    private readonly options: RunnerOptions,
  ) {
    this.lanes = Array.from({ length: Math.max(1, sink.maxInFlight) }, () => ({ queue: new Fifo<Envelope>(), busy: false, sending: undefined }));
    this.capacity = options.capacity ?? Math.max(1000, 4 * sink.maxBatch * this.lanes.length);
    options.metrics.watchSink(sink.name, () => this.queued);
  }

  get name(): string {
    return this.sink.name;
  }

  /** Events held now (waiting or in flight). */
  get pending(): number {
    return this.queued;
  }

  get room(): number {
    return Math.max(0, this.capacity - this.queued);
  }

  get delivering(): boolean {
    return this.failingSince === null;
  }

  status(): RunnerStatus {
    const state = this.failingSince === null ? 'delivering' : this.sink.isReady() ? 'retrying' : 'down';
    return {
      state,
      queued: this.queued,
      onlyInMemory: this.onlyInMemory,
      failingSince: this.failingSince,
      lastError: this.lastError,
      oldestHeld: this.oldestHeld(),
    };
  }

  /** Lanes are in arrival order, so each lane's oldest is its batch in flight, else its queue's front. */
  private oldestHeld(): number | null {
    let oldest: number | null = null;
    for (const lane of this.lanes) {
      const front = lane.sending?.[0] ?? lane.queue.peek();
      if (front === undefined) continue;
      const ts = Date.parse(front.event.ts);
      if (!Number.isNaN(ts) && (oldest === null || ts < oldest)) oldest = ts;
    }
    return oldest;
  }

  /** Resolves when there is room for `atLeast` more events (at most the capacity), or when stopping. */
  waitForRoom(atLeast = 1): Promise<void> {
    const wanted = Math.max(1, Math.min(atLeast, this.capacity));
    if (this.room >= wanted || this.stopping) return Promise.resolve();
    return new Promise((wake) => this.roomWaiters.push({ atLeast: wanted, wake }));
  }

  push(envelope: Envelope): void {
    if (this.stopping) return;
    // One lane (stdout, a batched webhook): no ordering key to build per event.
    const lane = this.lanes.length === 1 ? this.lanes[0] : this.lanes[laneIndex(envelope.event, this.lanes.length)];
    lane.queue.push(envelope);
    this.queued++;
    if (envelope.inTable !== true) this.onlyInMemory++;
    if (!lane.busy) void this.drain(lane);
  }

  /**
   * Stops taking events. With `finishQueued`, delivers what is queued too (notify
   * mode: memory is all there is); otherwise only the batches already in flight
   * (outbox mode: the rest is still in the table). After `timeoutMs` whatever
   * is still unconfirmed is abandoned unsettled, never marked delivered, and
   * returned (oldest first per lane) for a source that can keep it elsewhere.
   */
  async stop(timeoutMs: number, finishQueued: boolean): Promise<Envelope[]> {
    this.stopping = true;
    this.roomWaiters.splice(0).forEach((waiter) => waiter.wake());
    if (!finishQueued) {
      for (const lane of this.lanes) this.release(lane.queue.take(lane.queue.length));
      // A batch waiting to retry is handed back now (it stays in the outbox), not after the timeout.
      this.giveUp.abort();
    }
    const idle = new Promise<void>((resolve) => {
      if (this.lanes.every((l) => !l.busy && l.queue.length === 0)) resolve();
      else this.idleWaiters.push(resolve);
    });
    const timer = new Promise<'timeout'>((resolve) => setTimeout(resolve, timeoutMs, 'timeout').unref());
    let unconfirmed: Envelope[] = [];
    if ((await Promise.race([idle, timer])) === 'timeout') {
      this.options.logger.warn({ sink: this.name, unconfirmed: this.queued }, 'shutdown timeout: abandoning unconfirmed deliveries');
      // Taken before the abort: a batch whose send succeeds in this very moment is both delivered and returned (at least once).
      unconfirmed = this.lanes.flatMap((lane) => [...(lane.sending ?? []), ...lane.queue.take(lane.queue.length)]);
    }
    this.abort.abort();
    this.giveUp.abort();
    await this.sink.close().catch((err) => this.options.logger.warn({ sink: this.name, err: errorMessage(err) }, 'close failed'));
    return unconfirmed;
  }

  private async drain(lane: Lane): Promise<void> {
    lane.busy = true;
    try {
      // A page of the outbox or a chunk of notifications is pushed in one synchronous run: take it whole, not its first event alone.
      await Promise.resolve();
      while (lane.queue.length > 0 && !this.abort.signal.aborted) {
        const wait = this.sink.batchWaitMs ?? 0;
        if (wait > 0 && lane.queue.length < this.sink.maxBatch && !this.stopping) await sleep(wait, this.abort.signal);
        const batch = lane.queue.take(this.sink.maxBatch);
        lane.sending = batch;
        await this.deliver(batch);
        lane.sending = undefined;
      }
    } finally {
      lane.busy = false;
      lane.sending = undefined;
      if (this.lanes.every((l) => !l.busy && (l.queue.length === 0 || this.abort.signal.aborted))) {
        this.idleWaiters.splice(0).forEach((wake) => wake());
      }
    }
  }

  private async deliver(batch: Envelope[]): Promise<void> {
    const { retry, logger, metrics } = this.options;
    const signal = this.abort.signal;
    for (let attempt = 1; ; attempt++) {
      const started = performance.now();
      try {
        if (!this.sink.isReady()) await this.connect(signal);
        await this.sink.send(
          batch.map((e) => e.event),
          signal,
        );
        metrics.deliveryDuration.observe({ sink: this.name }, (performance.now() - started) / 1000);
        this.failingSince = null;
        this.settle(batch, { kind: 'delivered' });
        return;
      } catch (caught) {
        metrics.deliveryDuration.observe({ sink: this.name }, (performance.now() - started) / 1000);
        if (signal.aborted) return this.release(batch); // shutdown: hand back unsettled
        if (tooLargeToEncode(caught) && batch.length > 1) return this.deliverOneByOne(batch);
        // An event Postgres holds can be longer than a JavaScript string: it would be retried for ever, its row's later events behind it.
        const err = tooLargeToEncode(caught) ? new PermanentError(`event too large to encode: ${errorMessage(caught)}`) : caught;
        this.lastError = errorMessage(err);
        if (err instanceof PermanentError) {
          const failed = new Set(err.failedIds ?? batch.map((e) => e.event.id));
          logger.error({ sink: this.name, events: failed.size, err: errorMessage(err) }, 'permanent failure: moving events to dead letters');
          // Each dead letter records its own event's reason: events of one batch can fail for different ones.
          const byReason = new Map<string, Envelope[]>();
          for (const envelope of batch.filter((e) => failed.has(e.event.id))) {
            const reason = err.reasonFor(envelope.event.id);
            const group = byReason.get(reason);
            if (group === undefined) byReason.set(reason, [envelope]);
            else group.push(envelope);
          }
          for (const [reason, envelopes] of byReason) this.settle(envelopes, { kind: 'dead', error: reason, attempts: attempt });
          this.settle(
            batch.filter((e) => !failed.has(e.event.id)),
            { kind: 'delivered' },
          );
          this.stopFailingIfIdle();
          return;
        }
        if (retry.max_attempts > 0 && attempt >= retry.max_attempts) {
          logger.error(
            { sink: this.name, events: batch.length, attempts: attempt, err: errorMessage(err) },
            'retries exhausted: moving events to dead letters',
          );
          this.settle(batch, { kind: 'dead', error: errorMessage(err), attempts: attempt });
          this.stopFailingIfIdle();
          return;
        }
        if (this.giveUp.signal.aborted) return this.release(batch); // stopping: hand back unsettled
        metrics.deliveries.inc({ sink: this.name, outcome: 'retried' }, batch.length);
        this.failingSince ??= Date.now();
        // The far end's Retry-After wins over our own backoff ceiling (the contract says honour it).
        const asked = err instanceof RetriableError ? err.retryAfterMs : undefined;
        const delay = asked ?? backoffDelay(attempt, retry);
        const log = attempt === 1 || attempt % 10 === 0 ? logger.warn.bind(logger) : logger.debug.bind(logger);
        log({ sink: this.name, events: batch.length, attempt, retry_in_ms: delay, err: errorMessage(err) }, 'delivery failed, will retry');
        await sleep(delay, this.giveUp.signal);
        if (this.giveUp.signal.aborted) return this.release(batch);
      }
    }
  }

  /**
   * A batch too large to encode as a whole (a webhook's JSON array): each event on its own, in order.
   * Once stopping hands an event back (or may have), the rest go back with it: sent, they would overtake it.
   */
  private async deliverOneByOne(batch: readonly Envelope[]): Promise<void> {
    for (let i = 0; i < batch.length; i++) {
      if (this.giveUp.signal.aborted || this.abort.signal.aborted) return this.release(batch.slice(i));
      await this.deliver([batch[i]]);
    }
  }

  /**
   * A batch settled dead leaves nothing to retry: with nothing else held, and connected, the sink is
   * no longer failing (an idle sink would otherwise stay "retrying" until its next delivery). With events
   * still held it stays failing until one is delivered, so the failing gauge does not drop
   * between two batches that both fail.
   */
  private stopFailingIfIdle(): void {
    if (this.queued === 0 && this.sink.isReady()) this.failingSince = null;
  }

  /**
   * Connects before the first event and again whenever the sink turns not
   * ready, until stopped, so /readyz tells the truth on an idle bridge (a far
   * end that is down shows before anything waits for it, and one that is back shows too).
   */
  keepConnected(): void {
    const { retry, logger } = this.options;
    void keepConnected(this.sink, () => this.connect(this.abort.signal), { retry, logger, signal: this.giveUp.signal });
  }

  /**
   * One connect at a time, shared by all lanes and keepConnected. Its failure makes the sink failing
   * (down), and is the last error too: while a batch waits out its backoff, keepConnected's attempts
   * are what finds out why the far end is down now. Connected with nothing held, it is failing no more.
   */
  private connect(signal: AbortSignal): Promise<void> {
    this.connecting ??= this.sink
      .connect(signal)
      .then(() => this.stopFailingIfIdle())
      .catch((err: unknown) => {
        if (!signal.aborted) {
          this.lastError = errorMessage(err);
          // Down, events waiting or not: an idle bridge whose far end cannot be reached says so (status, the failing gauge).
          this.failingSince ??= Date.now();
        }
        throw err;
      })
      .finally(() => {
        this.connecting = undefined;
      });
    return this.connecting;
  }

  private settle(batch: readonly Envelope[], outcome: Outcome): void {
    if (batch.length === 0) return;
    const { metrics } = this.options;
    const now = Date.now();
    const labels = { sink: this.name };
    // The events of one transaction share their ts: parsed and observed once per run of equal ones.
    let ts = '';
    let lag = -1;
    let run = 0;
    for (const envelope of batch) {
      envelope.settle(outcome);
      if (outcome.kind !== 'delivered') continue;
      if (envelope.event.ts !== ts) {
        if (run > 0 && lag >= 0) metrics.endToEndLag.observe(labels, lag, run);
        ts = envelope.event.ts;
        lag = (now - Date.parse(ts)) / 1000;
        run = 0;
      }
      run++;
    }
    if (run > 0 && lag >= 0) metrics.endToEndLag.observe(labels, lag, run);
    const label = outcome.kind === 'delivered' ? 'delivered' : 'dead_lettered';
    metrics.deliveries.inc({ sink: this.name, outcome: label }, batch.length);
    if (outcome.kind === 'dead') metrics.deadLetters.inc({ sink: this.name }, batch.length);
    this.release(batch);
  }

  private release(batch: readonly Envelope[]): void {
    this.queued -= batch.length;
    for (const envelope of batch) if (envelope.inTable !== true) this.onlyInMemory--;
    if (this.roomWaiters.length === 0) return;
    const room = this.room;
    const waiting = this.roomWaiters;
    this.roomWaiters = waiting.filter((waiter) => room < waiter.atLeast);
    for (const waiter of waiting) if (room >= waiter.atLeast) waiter.wake();
  }
}
