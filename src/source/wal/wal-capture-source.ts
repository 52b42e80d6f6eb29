import { randomUUID } from 'node:crypto';
import type { DeliveryStop, Inlet } from '../../delivery/inlet.js';
import { nowIso, type BridgeEvent } from '../../event.js';
import { deadLetterOf } from '../dead-letters.js';
import type { Listener } from '../listener.js';
import { listenChannels } from '../listen-channels.js';
import { HeldNewTables } from '../../held-new-tables.js';
import { OutboxFeed } from '../outbox-feed.js';
import { SinkSpill } from '../sink-spill.js';
import type { Source, SourceContext } from '../source.js';
import { assertLogicalWal } from './wal-level.js';
import { dropReplayedSpill } from './replayed-spill.js';
import { WalSource } from './wal-source.js';

/**
 * `delivery: wal` behind the Source seam: the replication slot (WalSource),
 * raw NOTIFY channels forwarded as in notify mode, and the outbox feed for
 * dead letters moved back by `pgbridge dead-letters retry` and for the events
 * of a sink that failed or stalled (SinkSpill): the stream goes on for the others.
 */
export class WalCaptureSource implements Source {
  private readonly wal: WalSource;
  private readonly listener: Listener;
  private readonly feed: OutboxFeed;
  private readonly inlets: ReadonlyMap<string, Inlet>;
  private readonly spill: SinkSpill;
  private readonly routes: HeldNewTables;
  /** Set while the spill's writes fall behind; resolved when they caught up. */
  private spillCaughtUp: { promise: Promise<void>; resolve: () => void } | undefined;

  constructor(private readonly ctx: SourceContext) {
    this.inlets = new Map(ctx.inlets.map((inlet) => [inlet.name, inlet]));
    this.routes = new HeldNewTables(ctx.config, ctx.routes, ctx.newTables, ctx.logger.child({ component: 'bridge' }));
    this.spill = new SinkSpill(
      ctx.pool,
      ctx.table,
      0, // no count limit: wal mode spills a sink that fails or stalls (see WalSource)
      ctx.logger.child({ component: 'wal' }),
      'wal',
      () => this.feed.poke(),
      (behind) => this.spillBehind(behind),
    );
    // The readers push through the spill's watch, which sees the last spilled row handed over.
    this.feed = new OutboxFeed({ ...ctx, inlets: ctx.inlets.map((inlet) => this.spill.watch(inlet)) }, false, this.routes);
    this.wal = new WalSource(
      ctx.config,
      ctx.pool,
      {
        sinksFor: (event) => this.routes.sinksFor(event),
        hasRoom: (sink) => this.inlets.get(sink)!.room > 0,
        waitForRoom: (sink) => this.inlets.get(sink)!.waitForRoom(),
        delivering: (sink) => this.inlets.get(sink)!.delivering,
        othersDelivering: (sink) => ctx.inlets.some((inlet) => inlet.name !== sink && inlet.delivering),
        push: (sink, envelope) => this.inlets.get(sink)!.push(envelope),
        spilling: (sink) => this.spill.spilling(this.inlets.get(sink)!),
        spill: (sink, event, written) =>
          this.spill.spill({ sink, event, written }, 'this sink failed or stalled with its queue full, and the stream goes on for the other sinks'),
        spillBehind: () => this.spillCaughtUp?.promise,
        // Stored before the transaction counts as settled: the slot may then move past it.
        storeDeadLetter: (sink, event, outcome, stored) => ctx.deadLetters.store(deadLetterOf(sink, event, outcome), stored),
      },
      ctx.logger.child({ component: 'wal' }),
      ctx.metrics,
    );
    this.listener = listenChannels(ctx, {
      onNotification: (channel, payload) => this.onNotification(channel, payload),
      onConnected: () => this.feed.poke(),
    });
  }

  async start(): Promise<void> {
    await assertLogicalWal(this.ctx.pool, this.ctx.logger.child({ component: 'wal' }));
    const sinks = this.ctx.inlets.map((inlet) => inlet.name);
    await dropReplayedSpill(this.ctx.pool, this.ctx.table, this.ctx.config.wal.slot, sinks, this.ctx.logger.child({ component: 'wal' }));
    await this.spill.resume(sinks);
    this.wal.start();
    this.listener.start();
    this.feed.start();
  }

  async stop(delivery: DeliveryStop): Promise<void> {
    this.wal.stopIntake();
    this.routes.close();
    await this.listener.stop();
    // What is queued is still in the slot (or the outbox): only the batches in flight finish.
    await this.feed.stop(() => delivery.stop(false), delivery.deadline);
    // What the spill and the dead-letter store could not write in time is still in the slot: its transactions are not confirmed.
    // A quarter of what is left (at most 500 ms) stays for the last confirmation to the slot.
    const left = Math.max(0, delivery.deadline - Date.now());
    const writesEnd = delivery.deadline - Math.min(500, left / 4);
    await Promise.all([this.spill.stop(writesEnd), this.ctx.deadLetters.stopStoring(writesEnd)]);
    this.spillBehind(false);
    // After delivery stopped: what the sinks confirmed meanwhile is confirmed to the slot too.
    await this.wal.close();
    await this.ctx.deadLetters.flushed();
  }

  readiness(): Record<string, string> {
    return {
      listener: this.listener.connected ? 'ok' : 'not connected',
      replication: this.wal.state,
      ...this.feed.readiness(),
      ...this.routes.readiness(),
    };
  }

  private spillBehind(behind: boolean): void {
    if (behind) {
      let resolve = (): void => {};
      const promise = new Promise<void>((r) => (resolve = r));
      this.spillCaughtUp ??= { promise, resolve };
    } else {
      this.spillCaughtUp?.resolve();
      this.spillCaughtUp = undefined;
    }
  }

  private onNotification(channel: string, payload: string): void {
    if (channel === this.ctx.config.notifyChannel) {
      // A wake-up of the outbox (a dead letter moved back); wal mode trusts no payload.
      this.feed.poke();
      return;
    }
    this.ctx.metrics.eventsCaptured.inc({ source: 'channel' });
    const event: BridgeEvent = { kind: 'channel', id: randomUUID(), channel, payload, ts: nowIso() };
    for (const sink of this.ctx.routes.sinksFor(event)) {
      this.inlets.get(sink)!.push({
        event,
        settle: (outcome) => {
          if (outcome.kind === 'dead') this.ctx.deadLetters.record(deadLetterOf(sink, event, outcome));
        },
      });
    }
  }
}
