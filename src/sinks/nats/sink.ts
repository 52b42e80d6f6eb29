import { errorMessage, PermanentError, RetriableError, type EventFailure } from '../../errors.js';
import type { BridgeEvent } from '../../event.js';
import type { SinkClient, SinkContext } from '../sink.js';
import { SinkConnection } from '../sink-connection.js';
import { untilAborted } from '../until-aborted.js';
import {
  createNatsPublisher,
  type ClientSettings,
  type Judge,
  type NatsPublisher,
  type NatsPublisherFactory,
  type PublishOutcome,
} from './client.js';
import { serverList, type NatsSinkConfig } from './config.js';
import { streamSubjects } from './stream-subjects.js';
import { isNoResponders, NATS_REJECTED, NATS_UNAVAILABLE } from './errors.js';
import { toNatsMessage, type MessageSettings, type NatsMessage } from './message.js';
import { describeServers, serverAddresses } from './servers.js';
import { outsideStream, subjectProblem } from './subject.js';

/**
 * Publishes each event to JetStream with Nats-Msg-Id = event id, pipelined
 * per batch, and resolves once every PubAck is in. A batch sent again (after
 * a timeout or a lost connection) is safe: inside the stream's duplicate
 * window JetStream stores each id once. It does not reconnect by itself: on
 * loss it turns not ready and the delivery runner calls connect() again.
 */
export class NatsSink implements SinkClient {
  private readonly connection: SinkConnection<NatsPublisher>;
  private readonly clientSettings: ClientSettings;
  private readonly messageSettings: MessageSettings;
  private readonly where: string;

  constructor(
    private readonly config: NatsSinkConfig,
    private readonly ctx: SinkContext,
    private readonly createPublisher: NatsPublisherFactory = createNatsPublisher,
  ) {
    this.messageSettings = { subject: config.subject, channelSubject: config.channel_subject, format: config.format };
    const urls = serverList(typeof config.url === 'string' ? [config.url] : config.url);
    const addresses = serverAddresses(urls);
    this.where = describeServers(urls);
    const tls = config.tls === false || config.tls === null ? (addresses.tlsRequired ? true : null) : config.tls;
    this.clientSettings = {
      servers: addresses.servers,
      name: `pgbridge ${config.name}`,
      user: config.user ?? addresses.user,
      password: config.password ?? addresses.password,
      token: config.token ?? addresses.token,
      credsFile: config.creds ?? undefined,
      tls,
      connectTimeoutMs: config.connect_timeout_ms,
      pingIntervalMs: config.ping_interval_ms,
      pubAckTimeoutMs: config.timeout_ms,
      stream:
        config.stream === null
          ? null
          : { name: config.stream, declare: config.declare, subjects: streamSubjects(config), duplicateWindowMs: config.duplicate_window_ms },
    };
    this.connection = new SinkConnection({
      open: () => this.open(),
      opened: () => this.ctx.logger.info({ servers: this.where, stream: this.config.stream }, 'nats sink connected'),
      close: (publisher) => publisher.close(),
      abortError,
      connectError: (err) => {
        const reason = errorMessage(err).replace(/^nats: /, '');
        return new RetriableError(`nats sink "${this.name}" (${this.where}): ${reason}`, { cause: err, code: NATS_UNAVAILABLE });
      },
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
    const publisher = this.connection.usable();
    if (publisher === undefined) throw new RetriableError(`nats sink "${this.name}": not connected`, { code: NATS_UNAVAILABLE });
    if (signal.aborted) throw abortError(signal);
    const failures: EventFailure[] = [];
    const sendable: NatsMessage[] = [];
    for (const event of batch) {
      const message = toNatsMessage(event, this.messageSettings, this.ctx.format);
      const problem = subjectProblem(message.subject);
      if (problem === undefined) sendable.push(message);
      else failures.push({ id: event.id, reason: `nats: ${problem}` });
    }
    if (sendable.length > 0) {
      const outcomes = await untilAborted(publisher.publish(sendable, this.outsideStream(publisher)), signal, abortError);
      failures.push(...this.refused(publisher, sendable, outcomes));
    }
    // Each event's dead letter names its own subject.
    if (failures.length > 0) throw PermanentError.ofEvents(failures, NATS_REJECTED);
  }

  close(): Promise<void> {
    return this.connection.close();
  }

  /**
   * "No responders" means that nothing listens on the subject: no stream
   * takes it, or JetStream is not up (yet). With `stream` set, its subjects,
   * looked up now (they may have changed since connect), tell which: a message
   * whose subject none of them matches fails for good, alone, so that it
   * neither holds up the events behind it nor has its batch published again
   * on every retry. Matched, or with the subjects unknown (the stream gone, no
   * `stream` key: it may yet be created), it stays retriable. The server's
   * answer comes first, so that a subject mapping on the server that leads
   * into the stream is never refused.
   */
  private outsideStream(publisher: NatsPublisher): Judge {
    const stream = this.config.stream;
    let filters: Promise<readonly string[] | undefined> | undefined;
    return async (message, outcome) => {
      if (stream === null || outcome.ok || outcome.error instanceof PermanentError || !isNoResponders(outcome.error.cause)) return outcome;
      // Looked up once per batch, and only once a message went unheard.
      filters ??= publisher.streamSubjects();
      const subjects = await filters;
      const reason = subjects === undefined ? undefined : outsideStream(message.subject, stream, subjects);
      return reason === undefined
        ? outcome
        : { ok: false, error: new PermanentError(`nats: ${reason}`, { cause: outcome.error, code: NATS_REJECTED }) };
    };
  }

  /**
   * The messages JetStream refused for good. Any failure that may pass later
   * rejects the whole batch instead: sent again, what was stored already is
   * dropped as a duplicate, and the rest keeps its order.
   */
  private refused(publisher: NatsPublisher, messages: readonly NatsMessage[], outcomes: readonly PublishOutcome[]): EventFailure[] {
    const duplicates = outcomes.filter((o) => o.ok && o.duplicate).length;
    if (duplicates > 0) this.ctx.logger.info({ duplicates }, 'JetStream dropped redelivered events as duplicates');
    const errors = outcomes.flatMap((o) => (o.ok ? [] : [o.error]));
    const retriable = errors.find((error) => !(error instanceof PermanentError));
    if (retriable !== undefined) {
      // The connection closed under the batch (before its close was reported, e.g. during connect): reconnect.
      if (retriable.code === NATS_UNAVAILABLE) this.lost(publisher, retriable.message);
      throw new RetriableError(
        `nats sink "${this.name}": ${errors.length} of ${outcomes.length} message(s) not acknowledged; first: ${retriable.message}`,
        {
          cause: retriable,
          code: retriable.code,
        },
      );
    }
    return outcomes.flatMap((o, i) => (o.ok ? [] : [{ id: messages[i].msgId, reason: o.error.message }]));
  }

  /** The connection ended (server gone, stale pings, closed by the server): not ready, unless a newer one replaced it. */
  private lost(publisher: NatsPublisher, reason: string): void {
    if (this.connection.lost(publisher)) this.ctx.logger.warn({ servers: this.where, reason }, 'nats sink disconnected');
  }

  /** A publisher connected (its stream there), or none left open. */
  private async open(): Promise<NatsPublisher> {
    const publisher = this.createPublisher(this.clientSettings);
    try {
      await publisher.connect((reason) => this.lost(publisher, reason));
    } catch (err) {
      await publisher.close().catch(() => undefined);
      throw err;
    }
    return publisher;
  }
}

const abortError = (signal: AbortSignal): RetriableError => new RetriableError('nats: aborted', { cause: signal.reason });

export const createSink = (config: NatsSinkConfig, ctx: SinkContext): SinkClient => new NatsSink(config, ctx);
