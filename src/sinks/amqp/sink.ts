import { once } from 'node:events';
import type { Message } from 'amqplib';
import type { BridgeEvent } from '../../event.js';
import { errorMessage, PermanentError, RetriableError } from '../../errors.js';
import type { Sink, SinkContext } from '../sink.js';
import { amqpSecrets, type AmqpSinkConfig } from './config.js';
import { describeUrl, openSession, type AmqpSession } from './connect.js';
import { toMessage, type AmqpMessage, type MessageSettings } from './message.js';

/** One open connection and what happened on it; replaced as a whole by connect(). */
interface Live extends AmqpSession {
  /** Ids of messages the broker handed back as unroutable, until their send() has read them. */
  readonly returned: Set<string>;
  /** Settles once the channel or connection is gone, whoever closed it. */
  readonly lost: Promise<void>;
}

type Confirm = { ok: true } | { ok: false; error: Error };

/**
 * Publishes each batch pipelined on a confirm channel and resolves once the
 * broker confirmed every message. It does not reconnect by itself: on loss it
 * turns not ready and the delivery runner calls connect() again.
 */
export class AmqpSink implements Sink {
  readonly type = 'amqp';
  readonly maxBatch: number;
  readonly maxInFlight: number;
  private readonly secrets: readonly string[];
  private readonly settings: MessageSettings;
  private live: Live | undefined;
  private ready = false;

  constructor(
    private readonly config: AmqpSinkConfig,
    private readonly ctx: SinkContext,
  ) {
    this.maxBatch = config.max_batch;
    this.maxInFlight = config.max_in_flight;
    this.secrets = amqpSecrets(config);
    this.settings = { routingKey: config.routing_key, format: config.format };
  }

  get name(): string {
    return this.config.name;
  }

  isReady(): boolean {
    return this.ready;
  }

  async connect(signal: AbortSignal): Promise<void> {
    if (this.ready) return;
    await this.shutDown();
    const session = await openSession(this.config, this.secrets, signal);
    this.live = this.watch(session);
    this.ready = true;
    this.ctx.logger.info({ sink: this.name, broker: describeUrl(this.config.url), exchange: this.config.exchange }, 'amqp sink connected');
  }

  async send(batch: readonly BridgeEvent[], signal: AbortSignal): Promise<void> {
    const live = this.live;
    if (!this.ready || live === undefined) throw new RetriableError(`amqp sink "${this.name}": not connected`, { code: 'PGBRIDGE_NOT_CONNECTED' });
    signal.throwIfAborted();

    const messages = batch.map((event) => toMessage(event, this.settings, this.ctx.format));
    const confirms: Promise<Confirm>[] = [];
    try {
      for (const message of messages) {
        const { confirm, flushed } = this.publish(live, message);
        confirms.push(confirm);
        if (!flushed) await Promise.race([once(live.channel, 'drain'), live.lost]);
      }
    } catch (err) {
      // Publishing on a channel that just closed throws; the confirms already pending settle as failed.
      await Promise.all(confirms);
      throw this.lostError(err);
    }
    const results = await untilAborted(Promise.all(confirms), signal);

    const failed = results.find((result): result is { ok: false; error: Error } => !result.ok);
    if (failed !== undefined) {
      for (const event of batch) live.returned.delete(event.id);
      if (!this.ready || this.live !== live) throw this.lostError(failed.error);
      throw new RetriableError(`amqp sink "${this.name}": broker did not confirm: ${errorMessage(failed.error)}`, { cause: failed.error });
    }
    const unroutable = batch.filter((event) => live.returned.delete(event.id)).map((event) => event.id);
    if (unroutable.length > 0) {
      throw new PermanentError(
        `amqp sink "${this.name}": ${unroutable.length} of ${batch.length} message(s) unroutable: exchange "${this.config.exchange}" has no binding for them`,
        { failedIds: unroutable, code: 'PGBRIDGE_AMQP_UNROUTABLE' },
      );
    }
  }

  private publish(live: Live, message: AmqpMessage): { confirm: Promise<Confirm>; flushed: boolean } {
    let resolveConfirm!: (result: Confirm) => void;
    const confirm = new Promise<Confirm>((resolve) => (resolveConfirm = resolve));
    const flushed = live.channel.publish(this.config.exchange, message.routingKey, message.content, message.options, (err: unknown) =>
      resolveConfirm(err ? { ok: false, error: err instanceof Error ? err : new Error(String(err)) } : { ok: true }),
    );
    return { confirm, flushed };
  }

  async close(): Promise<void> {
    await this.shutDown();
  }

  /** Attaches the listeners that turn a lost connection into "not ready" rather than a crash. */
  private watch(session: AmqpSession): Live {
    const returned = new Set<string>();
    let markLost!: () => void;
    const lost = new Promise<void>((resolve) => (markLost = resolve));
    const live: Live = { ...session, returned, lost };
    const onLost = (reason: string) => (err?: unknown) => {
      markLost();
      if (this.live !== live) return;
      this.ready = false;
      this.ctx.logger.warn({ sink: this.name, err: err === undefined ? undefined : this.scrub(errorMessage(err)) }, `amqp sink ${reason}`);
      // One channel per connection: without the channel the connection is of no use, and vice versa.
      void session.connection.close().catch(() => {});
    };
    session.connection.on('error', (err: Error) => this.ctx.logger.warn({ sink: this.name, err: this.scrub(errorMessage(err)) }, 'amqp connection error'));
    session.connection.on('close', onLost('connection closed'));
    session.connection.on('blocked', (reason: string) => this.ctx.logger.warn({ sink: this.name, reason }, 'amqp broker blocked publishing'));
    session.connection.on('unblocked', () => this.ctx.logger.info({ sink: this.name }, 'amqp broker unblocked publishing'));
    session.channel.on('error', (err: Error) => this.ctx.logger.warn({ sink: this.name, err: this.scrub(errorMessage(err)) }, 'amqp channel error'));
    session.channel.on('close', onLost('channel closed'));
    // The broker sends basic.return before the confirm of the same message, so the id is here when send() looks.
    session.channel.on('return', (message: Message) => {
      const id: unknown = message.properties.messageId;
      if (typeof id === 'string') returned.add(id);
    });
    return live;
  }

  private async shutDown(): Promise<void> {
    const live = this.live;
    this.live = undefined;
    this.ready = false;
    if (live === undefined) return;
    await live.channel.close().catch(() => {});
    await live.connection.close().catch(() => {});
  }

  private lostError(cause: unknown): RetriableError {
    return new RetriableError(`amqp sink "${this.name}": connection lost: ${this.scrub(errorMessage(cause))}`, {
      cause,
      code: 'PGBRIDGE_AMQP_LOST',
    });
  }

  private scrub(text: string): string {
    return this.secrets.reduce((out, secret) => out.split(secret).join('***'), text);
  }
}

/** The batch is handed back (RetriableError) when the runner gives up waiting, e.g. at shutdown. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new RetriableError('send aborted', { cause: signal.reason }));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new RetriableError('send aborted', { cause: signal.reason }));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
