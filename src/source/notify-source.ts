import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Checkpoint, Envelope, Outcome } from '../delivery/envelope.js';
import type { DeliveryStop, Inlet } from '../delivery/inlet.js';
import { nowIso, type BridgeEvent, type RowChangeEvent } from '../event.js';
import { deadLetterOf } from './dead-letters.js';
import { errorMessage } from '../errors.js';
import type { Listener } from './listener.js';
import { listenChannels } from './listen-channels.js';
import { NotifyEnvelope, type NotifyPosition } from './notify-envelope.js';
import { KeptEvents } from './kept-events.js';
import { ListenerSync } from './listener-sync.js';
import { parseKeptNotice, parseNotifyPayload } from './notify-payload.js';
import { OutboxEnvelope } from './outbox-envelope.js';
import { OwnEvents } from './own-events.js';
import { SinkSpill, type Spilled } from './sink-spill.js';
import { OutboxFeed } from './outbox-feed.js';
import { SinkHold } from './sink-hold.js';
import { RunCounter } from './run-counter.js';
import type { Source, SourceContext } from './source.js';
import { UnnoticedSweep } from './unnoticed-sweep.js';

/** Why a sink's events go to the outbox table, for the log line when it starts spilling. */
const MEMORY_FULL = 'memory limit of events waiting for this sink reached';
const DELIVERED: Outcome = { kind: 'delivered' };

/**
 * `delivery: notify`: events arrive in NOTIFY payloads and go straight to the
 * sinks, memory the only buffer; what nobody listened to is lost, and the log
 * says so. Events too large for a payload wait in the outbox table, and the
 * trigger sends a kept notice in their place: each is read from there and
 * handed on in that place, later events of its row waiting for it
 * (KeptEvents). A sink's events past `notify.memory_limit_events` waiting in
 * memory wait in the outbox table too, for that sink (SinkSpill), and its
 * reader hands them over.
 */
export class NotifySource implements Source, Checkpoint<NotifyPosition> {
  private readonly listener: Listener;
  private readonly feed: OutboxFeed;
  private readonly spill: SinkSpill;
  private readonly hold: SinkHold;
  private readonly kept: KeptEvents;
  private readonly sync: ListenerSync;
  private readonly sweep: UnnoticedSweep;
  /** Why the listener is not reading now: the spill writer is behind, the sinks are full (SinkHold), or kept events are slow to read. */
  private readonly paused = new Set<'spill' | 'hold' | 'kept'>();
  private readonly log: Logger;
  private readonly inlets: ReadonlyMap<string, Inlet>;
  private notListeningSince: number | undefined;
  /** Stopping: the listener no longer reads, so it is not held (SinkHold) either. */
  private stopping = false;
  private readonly captured: RunCounter;
  private readonly own: OwnEvents;

  constructor(private readonly ctx: SourceContext) {
    this.log = ctx.logger.child({ component: 'bridge' });
    this.notListeningSince = ctx.notListeningSince;
    this.captured = new RunCounter((count) => ctx.metrics.eventsCaptured.inc({ source: 'notify' }, count));
    this.own = new OwnEvents(ctx.config.instance, ctx.config.capture);
    this.spill = new SinkSpill(
      ctx.pool,
      ctx.table,
      ctx.config.notify.memoryLimitEvents,
      ctx.logger.child({ component: 'bridge' }),
      'notify',
      () => this.feed.poke(),
      (pause) => this.pause('spill', pause),
    );
    this.hold = new SinkHold(
      ctx.inlets,
      ctx.config.notify.memoryLimitEvents,
      ctx.pool,
      this.log,
      (on) => this.pause('hold', on),
      () => this.listener.backendPid,
    );
    // The readers push through the spill's watch, which sees the last spilled row handed over. The rows the
    // triggers kept are not theirs: KeptEvents reads those, each at its notice.
    this.feed = new OutboxFeed({ ...ctx, inlets: ctx.inlets.map((inlet) => this.spill.watch(inlet)) }, true);
    this.inlets = new Map(ctx.inlets.map((inlet) => [inlet.name, inlet]));
    this.kept = new KeptEvents({
      pool: ctx.pool,
      table: ctx.table,
      routes: ctx.routes,
      checkpoint: this.feed.checkpoint,
      sinks: ctx.inlets.map((inlet) => inlet.name),
      limit: ctx.config.notify.memoryLimitEvents,
      logger: this.log,
      metrics: ctx.metrics,
      release: (sink, envelope) => this.released(this.inlets.get(sink)!, envelope),
      backPressure: (pause) => this.pause('kept', pause),
    });
    this.sync = new ListenerSync(ctx.pool, ctx.config.notifyChannel);
    this.sweep = new UnnoticedSweep(ctx.pool, ctx.table, this.sync, this.kept, this.log);
    this.listener = listenChannels(ctx, {
      onNotification: (channel, payload) => this.onNotification(channel, payload),
      onConnected: (outage) => this.onConnected(outage),
    });
  }

  async start(): Promise<void> {
    await this.spill.resume(this.ctx.inlets.map((inlet) => inlet.name));
    this.listener.start();
    this.feed.start();
  }

  async stop(delivery: DeliveryStop): Promise<void> {
    this.stopping = true;
    await this.listener.stop();
    this.hold.stop();
    this.sweep.stop();
    this.sync.lost();
    this.log.warn('notify mode: stopped listening; row changes committed from now until a pgbridge listens again are lost');
    // Kept events noticed are read (one query) and handed on in their place, with what waits for them.
    await this.kept.stop(Date.now() + Math.max(0, delivery.deadline - Date.now()) / 4);
    // What was spilled is kept in the table for the next run; the readers stop below. Half the time
    // left goes to writing what is still waiting for the table; the rest to delivering memory.
    const unwritten = await this.spill.stop(Date.now() + Math.max(0, delivery.deadline - Date.now()) / 2);
    this.handOver(unwritten);
    // Memory is all there is: what is queued is still delivered, and what is not confirmed in time is kept in the table.
    let unconfirmed: ReadonlyMap<string, readonly Envelope[]> = new Map();
    await this.feed.stop(async () => {
      unconfirmed = await delivery.stop(true);
    }, delivery.deadline);
    await this.keepUnconfirmed(unconfirmed, delivery.deadline);
    await this.ctx.deadLetters.flushed();
  }

  /**
   * Events a sink did not confirm by the shutdown deadline, that only memory
   * held, go to the outbox table for that sink, as a spill does: the next run
   * delivers them first (SinkSpill.resume). Rows read from the table are still
   * there; what a spill of this run left there goes after these (SinkSpill.keep).
   */
  private async keepUnconfirmed(unconfirmed: ReadonlyMap<string, readonly Envelope[]>, deadline: number): Promise<void> {
    const spilled: Spilled[] = [];
    const bySink: Record<string, number> = {};
    for (const [sink, envelopes] of unconfirmed) {
      const own = envelopes.filter((envelope) => envelope instanceof NotifyEnvelope);
      if (own.length === 0) continue;
      bySink[sink] = own.length;
      for (const envelope of own) spilled.push({ sink, event: envelope.event });
    }
    if (spilled.length === 0) return;
    // A spill of this run (ended or not) may have left newer events of the same rows in the table.
    const outcome = await this.spill.keep(spilled, Object.keys(bySink), deadline);
    if ('error' in outcome) {
      this.log.error(
        { events: bySink, err: errorMessage(outcome.error) },
        'notify mode: events the sinks did not confirm before shutdown_timeout_ms could not be kept in the outbox table; they are lost',
      );
      return;
    }
    this.log.warn(
      { events: bySink, ...(outcome.moved > 0 ? { spilled_rows_moved_behind_them: outcome.moved } : {}) },
      'notify mode: events the sinks did not confirm before shutdown_timeout_ms are kept in the outbox table; the next run delivers them',
    );
  }

  /**
   * Events Postgres did not take into the outbox in time (it is down, say) exist
   * only here: delivered from memory like the queue, rather than lost, though
   * they may overtake older events of their rows still kept in the table.
   */
  private handOver(unwritten: readonly Spilled[]): void {
    if (unwritten.length === 0) return;
    const bySink = new Map<string, number>();
    for (const { sink, event } of unwritten) {
      this.inlets.get(sink)!.push(new NotifyEnvelope(event, sink, this));
      bySink.set(sink, (bySink.get(sink) ?? 0) + 1);
    }
    this.log.warn(
      { events: Object.fromEntries(bySink) },
      'notify mode: stopping with events not yet kept in the outbox table (Postgres did not take them in time); delivering them from memory, possibly ahead of older events of the same rows kept there',
    );
  }

  private pause(reason: 'spill' | 'hold' | 'kept', on: boolean): void {
    if (on) this.paused.add(reason);
    else this.paused.delete(reason);
    if (this.paused.size > 0) this.listener.pause();
    else this.listener.resume();
  }

  readiness(): Record<string, string> {
    return { listener: this.listener.connected ? 'ok' : 'not connected', ...this.feed.readiness() };
  }

  settle(position: NotifyPosition, outcome: Outcome): void {
    if (outcome.kind === 'dead') this.ctx.deadLetters.record(deadLetterOf(position.sink, position.event, outcome));
  }

  private onConnected(outage: number): void {
    // A phase that follows a lost one starts a fresh listener, whose first connection ends that outage.
    const since = this.notListeningSince;
    this.notListeningSince = undefined;
    const gap = outage > 0 ? outage : since === undefined ? 0 : Math.max(1, Date.now() - since);
    if (gap > 0) {
      this.log.warn(
        { outage_ms: gap },
        'notify mode: row changes committed while the listener was disconnected are lost (use delivery: outbox to keep them)',
      );
    } else {
      // A restart or a standby's takeover is an outage too, only one this process cannot measure.
      this.log.warn(
        'notify mode: listening from now on; row changes committed while no pgbridge was listening (before this start or takeover) are lost (use delivery: outbox to keep them)',
      );
    }
    // Notifications on their way on a lost connection are lost, round trips included; kept rows whose
    // notice was among them (or never came) are swept up.
    this.sync.lost();
    this.sweep.connected();
    this.feed.poke();
  }

  private onNotification(channel: string, payload: string): void {
    const { config, metrics } = this.ctx;
    if (channel !== config.notifyChannel) {
      metrics.eventsCaptured.inc({ source: 'channel' });
      this.dispatch({ kind: 'channel', id: randomUUID(), channel, payload, ts: nowIso() });
      return;
    }
    if (payload === '') {
      // A wake-up: a dead letter moved back into the outbox, or an event kept by a trigger installed before kept notices.
      this.feed.poke();
      this.sweep.request();
      return;
    }
    const event = parseNotifyPayload(payload);
    if (event) {
      if (!this.isOwn(event)) return;
      this.captured.add();
      this.dispatch(event);
      return;
    }
    const kept = parseKeptNotice(payload);
    if (kept) {
      if (this.isOwn(kept.event)) this.kept.noticed(kept);
    } else if (!this.sync.handled(payload)) this.log.warn({ channel, bytes: payload.length }, 'ignoring a notification that is not a pgbridge event');
  }

  /** Another instance's event on a shared notify_channel is its own bridge's to deliver (OwnEvents). */
  private isOwn(event: RowChangeEvent): boolean {
    if (this.own.has(event)) return true;
    // A busy instance beside this one sends many: no log object built unless it is written.
    if (this.log.isLevelEnabled('debug')) {
      this.log.debug(
        { table: `${event.schema}.${event.table}`, op: event.op, instance: event.fromInstance ?? null },
        "ignoring another instance's event on the notify channel",
      );
    }
    return false;
  }

  private dispatch(event: BridgeEvent): void {
    for (const sink of this.ctx.routes.sinksFor(event)) {
      const inlet = this.inlets.get(sink)!;
      // Behind a kept event of its row: it waits for that one's read, whatever memory holds.
      if (this.kept.holds(sink, event)) this.kept.hold(sink, new NotifyEnvelope(event, sink, this));
      else if (this.memoryFull(inlet)) this.spill.spill({ sink, event }, MEMORY_FULL);
      else this.remember(inlet, new NotifyEnvelope(event, sink, this));
    }
  }

  /** An envelope nothing of its row is ahead of any more (a kept event read, or what waited for it). */
  private released(inlet: Inlet, envelope: Envelope): void {
    if (!this.memoryFull(inlet)) return this.remember(inlet, envelope);
    // A kept row is settled for this sink once its copy for the sink is in the table.
    const written = envelope instanceof OutboxEnvelope ? () => envelope.settle(DELIVERED) : undefined;
    this.spill.spill({ sink: inlet.name, event: envelope.event, written }, MEMORY_FULL);
  }

  /** Whether new events for `inlet`'s sink go to the table: it spills, or memory is at its limit and the listener does not hold. */
  private memoryFull(inlet: Inlet): boolean {
    // At the limit, memory takes what arrives while the listener holds (what it had read already).
    return this.spill.wants(inlet, this.kept.waiting(inlet.name)) && (this.spill.spilling(inlet) || this.stopping || !this.hold.consider());
  }

  private remember(inlet: Inlet, envelope: Envelope): void {
    inlet.push(envelope);
    if (!this.stopping) this.hold.pushed(inlet);
  }
}
