import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Message } from 'amqplib';
import type { BridgeEvent } from '../../event.js';
import { errorMessage, PermanentError, RetriableError, type EventFailure } from '../../errors.js';
import { Scrubber } from '../../secrets.js';
import { renderTemplate } from '../../template.js';
import type { SinkClient, SinkContext } from '../sink.js';
import { SinkConnection } from '../sink-connection.js';
import { untilAborted } from '../until-aborted.js';
import { rowToKeepInOrder } from '../row-order.js';
import { amqpSecrets, type AmqpSinkConfig } from './config.js';
import { describeUrl, openSession, type AmqpSession } from './connect.js';
import { BatchConfirms } from './batch-confirms.js';
import { isUnencodable, routingKeyProblem, toMessage, type MessageSettings } from './message.js';

/** One open connection and what happened on it; replaced as a whole by connect(). */
interface Live extends AmqpSession {
  /** Ids of messages the broker handed back as unroutable, until their send() has read them. */
  readonly returned: Set<string>;
  /** Settles once the channel or connection is gone, whoever closed it. */
  readonly lost: Promise<void>;
  /** What the broker or the socket said last, for the error of the sends it broke. */
  lastError: string | undefined;
  /** close() or a reconnect ended it: not worth a warning. */
  closedByUs: boolean;
}

const CLOSE_TIMEOUT_MS = 5000;

/**
 * Publishes each batch pipelined on a confirm channel and resolves once the
 * broker confirmed every message. It does not reconnect by itself: on loss it
 * turns not ready and the delivery runner calls connect() again.
 */
export class AmqpSink implements SinkClient {
  private readonly scrubber: Scrubber;
  private readonly settings: MessageSettings;
  private readonly connection: SinkConnection<Live>;

  constructor(
    private readonly config: AmqpSinkConfig,
    private readonly ctx: SinkContext,
  ) {
    this.scrubber = new Scrubber(amqpSecrets(config));
    this.settings = { routingKey: config.routing_key, format: config.format, mandatory: config.mandatory };
    this.connection = new SinkConnection({
      open: async (signal) => this.watch(await openSession(this.config, this.scrubber, signal)),
      opened: () => this.ctx.logger.info({ broker: describeUrl(this.config.url), exchange: this.config.exchange }, 'amqp sink connected'),
      close: (live) => closeLive(live),
      abortError: (signal) =>
        new RetriableError(`amqp sink "${this.name}": connect aborted`, { cause: signal.reason, code: 'PGBRIDGE_AMQP_CONNECT' }),
      logger: ctx.logger,
    });
  }

  private get name(): string {
    return this.config.name;
  }

  isReady(): boolean {
    return this.connection.isReady();
  }

  connect(signal: AbortSignal): Promise<void> {
    return this.connection.connect(signal);
  }

  async send(batch: readonly BridgeEvent[], signal: AbortSignal): Promise<void> {
    const live = this.connection.usable();
    if (live === undefined) throw new RetriableError(`amqp sink "${this.name}": not connected`, { code: 'PGBRIDGE_NOT_CONNECTED' });
    if (signal.aborted) throw new RetriableError(`amqp sink "${this.name}": send aborted`, { cause: signal.reason });

    const refused: EventFailure[] = [];
    const confirms = new BatchConfirms();
    const rowsSinceDrained = new Set<string>();
    try {
      for (const event of batch) {
        const message = toMessage(event, this.settings, this.ctx.format);
        const problem = routingKeyProblem(message.routingKey);
        if (problem !== undefined) {
          refused.push({ id: event.id, reason: `amqp sink "${this.name}": ${problem}` });
          continue;
        }
        // A row's second message waits for the confirms of what went before: the broker can nack one (a full
        // queue with reject-publish) and take the next, which would precede it once the batch is sent again.
        const row = rowToKeepInOrder(event);
        if (row !== undefined && rowsSinceDrained.has(row)) {
          if ((await untilAborted(confirms.drained(), signal, sendAborted)) !== undefined) break;
          rowsSinceDrained.clear();
        }
        if (row !== undefined) rowsSinceDrained.add(row);
        let flushed: boolean;
        try {
          flushed = live.channel.publish(this.config.exchange, message.routingKey, message.content, message.options, confirms.confirm);
        } catch (err) {
          if (!isUnencodable(err)) throw err;
          refused.push({ id: event.id, reason: `amqp sink "${this.name}": cannot encode the message: ${errorMessage(err)}` });
          continue;
        }
        confirms.published();
        if (!flushed) await Promise.race([once(live.channel, 'drain'), live.lost]);
      }
    } catch (err) {
      // Publishing on a channel that just closed throws; the confirms already pending settle as failed.
      await untilAborted(confirms.seal(), signal, sendAborted).catch(() => {});
      throw this.failure(live, err);
    }
    const failed = await untilAborted(confirms.seal(), signal, sendAborted);
    if (failed !== undefined) {
      for (const event of batch) live.returned.delete(event.id);
      throw this.failure(live, failed);
    }
    const unroutable = batch.filter((event) => live.returned.delete(event.id)).map((event) => ({ id: event.id, reason: this.unroutable(event) }));
    if (refused.length > 0) throw PermanentError.ofEvents([...refused, ...unroutable], 'PGBRIDGE_AMQP_REFUSED');
    if (unroutable.length > 0) throw PermanentError.ofEvents(unroutable, 'PGBRIDGE_AMQP_UNROUTABLE');
  }

  private unroutable(event: BridgeEvent): string {
    const routingKey = renderTemplate(this.settings.routingKey, event);
    return `amqp sink "${this.name}": message unroutable: exchange "${this.config.exchange}" has no binding for routing key ${JSON.stringify(routingKey)}`;
  }

  close(): Promise<void> {
    return this.connection.close();
  }

  /** Attaches the listeners that turn a lost connection into "not ready" rather than a crash. */
  private watch(session: AmqpSession): Live {
    const returned = new Set<string>();
    let markLost!: () => void;
    const lost = new Promise<void>((resolve) => (markLost = resolve));
    const live: Live = { ...session, returned, lost, lastError: undefined, closedByUs: false };
    const onError = (err: Error): void => {
      live.lastError = errorMessage(err);
    };
    const lose = (): void => {
      markLost();
      if (!this.connection.lost(live)) return;
      // One channel per connection: without the channel the connection is of no use.
      void session.connection.close().catch(() => {});
    };
    session.channel.on('error', onError);
    session.channel.on('close', lose);
    session.connection.on('error', onError);
    // Always follows the channel's close, so this is where the reason is complete enough to log.
    session.connection.on('close', (err?: Error) => {
      if (err !== undefined) live.lastError ??= errorMessage(err);
      lose();
      if (!live.closedByUs) this.ctx.logger.warn({ reason: this.scrubber.scrub(live.lastError ?? 'closed') }, 'amqp sink disconnected');
    });
    session.connection.on('blocked', (reason: string) => this.ctx.logger.warn({ reason }, 'amqp broker blocked publishing'));
    session.connection.on('unblocked', () => this.ctx.logger.info('amqp broker unblocked publishing'));
    // The broker sends basic.return before the confirm of the same message, so the id is here when send() looks.
    session.channel.on('return', (message: Message) => {
      const id: unknown = message.properties.messageId;
      if (typeof id === 'string') returned.add(id);
    });
    return live;
  }

  /** A nack on a healthy channel, or the loss of the channel itself: either way the batch is to be sent again. */
  private failure(live: Live, cause: unknown): RetriableError {
    if (this.connection.usable() === live) {
      return new RetriableError(`amqp sink "${this.name}": broker did not confirm: ${this.scrubber.scrub(errorMessage(cause))}`, { cause });
    }
    const reason = live.lastError ?? errorMessage(cause);
    return new RetriableError(`amqp sink "${this.name}": connection lost: ${this.scrubber.scrub(reason)}`, { cause, code: 'PGBRIDGE_AMQP_LOST' });
  }
}

async function closeLive(live: Live): Promise<void> {
  live.closedByUs = true;
  // A broker that vanished without a FIN never answers the close; the heartbeat ends that socket later.
  await Promise.race([live.connection.close().catch(() => {}), sleep(CLOSE_TIMEOUT_MS, undefined, { ref: false })]);
}

/** The batch is handed back (RetriableError) when the runner gives up waiting, e.g. at shutdown. */
const sendAborted = (signal: AbortSignal): RetriableError => new RetriableError('send aborted', { cause: signal.reason });

export const createSink = (config: AmqpSinkConfig, ctx: SinkContext): SinkClient => new AmqpSink(config, ctx);
