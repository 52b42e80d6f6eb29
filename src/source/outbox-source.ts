import type { Logger } from 'pino';
import type { DeliveryStop } from '../delivery/inlet.js';
import { errorMessage } from '../errors.js';
import { ChannelMessageWriter } from './channel-messages.js';
import type { Listener } from './listener.js';
import { listenChannels } from './listen-channels.js';
import { HeldNewTables } from '../held-new-tables.js';
import { OutboxFeed } from './outbox-feed.js';
import { sweepStrandedRows } from './outbox-sweep.js';
import type { Source, SourceContext } from './source.js';

/**
 * `delivery: outbox`: the triggers write every change to the outbox table
 * and NOTIFY only to wake the readers; channel messages are written to the
 * table first. Nothing lives only in memory, so a stop drops what is queued.
 */
export class OutboxSource implements Source {
  private readonly listener: Listener;
  private readonly feed: OutboxFeed;
  private readonly channelMessages: ChannelMessageWriter;
  private readonly log: Logger;
  private readonly routes: HeldNewTables;

  constructor(private readonly ctx: SourceContext) {
    this.log = ctx.logger.child({ component: 'outbox' });
    this.routes = new HeldNewTables(ctx.config, ctx.routes, ctx.newTables, ctx.logger.child({ component: 'bridge' }));
    this.feed = new OutboxFeed(ctx, false, this.routes);
    this.channelMessages = new ChannelMessageWriter(ctx.pool, ctx.table, ctx.logger.child({ component: 'bridge' }), () => this.feed.poke());
    this.listener = listenChannels(ctx, {
      onNotification: (channel, payload) => {
        // Outbox mode trusts no payload: a notification on the capture channel only means "read the table".
        if (channel === ctx.config.notifyChannel) this.feed.poke();
        else this.channelMessages.push(channel, payload);
      },
      onConnected: () => this.feed.poke(),
    });
  }

  async start(): Promise<void> {
    await this.sweep();
    this.listener.start();
    this.feed.start();
  }

  async stop(delivery: DeliveryStop): Promise<void> {
    this.routes.close();
    await this.listener.stop();
    // Channel messages already received are written to the outbox before delivery stops.
    await this.channelMessages.flushed();
    await this.feed.stop(() => delivery.stop(false), delivery.deadline);
  }

  readiness(): Record<string, string> {
    return { listener: this.listener.connected ? 'ok' : 'not connected', ...this.feed.readiness(), ...this.routes.readiness() };
  }

  /** Clears rows a config change left behind (see sweepStrandedRows); a failure only delays that. */
  private async sweep(): Promise<void> {
    const { ctx } = this;
    try {
      const sinks = ctx.config.sinks.map((s) => s.name);
      const { finished, returned } = await sweepStrandedRows(ctx.pool, ctx.table, ctx.deadLetters, this.routes, sinks);
      if (finished > 0) this.log.info({ events: finished }, 'removed outbox events that every sink routed to them already has (routes changed)');
      if (returned > 0) this.log.warn({ events: returned }, 'events replayed to a sink that is no longer configured are back in the dead letters');
    } catch (err) {
      this.log.warn({ err: errorMessage(err) }, 'sweeping stranded outbox events failed; will try again at the next start');
    }
  }
}
