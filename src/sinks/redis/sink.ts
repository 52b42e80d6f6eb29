import { nodeTlsOptions } from '../tls-options.js';
import { BridgeError, PermanentError, RetriableError, errorMessage } from '../../errors.js';
import type { BridgeEvent } from '../../event.js';
import type { SinkClient, SinkContext } from '../sink.js';
import { SinkConnection } from '../sink-connection.js';
import { untilAborted } from '../until-aborted.js';
import { createRedisClient, type ClientSettings, type RedisClientFactory, type RedisStreamClient } from './client.js';
import { describeRedisUrl, type RedisSinkConfig } from './config.js';
import { streamProblem, toStreamEntry, type EntrySettings, type StreamEntry } from './entry.js';
import { REDIS_REJECTED, REDIS_UNAVAILABLE } from './errors.js';

interface Failure {
  readonly id: string;
  readonly error: RetriableError | PermanentError;
}

/**
 * Appends each event to its stream with XADD, a batch as one MULTI … EXEC on
 * one connection, and resolves once EXEC answered with an entry id for every
 * event. It does not reconnect by itself: on loss it turns not ready and the
 * delivery runner calls connect() again.
 */
export class RedisSink implements SinkClient {
  private readonly connection: SinkConnection<RedisStreamClient>;
  private readonly clientSettings: ClientSettings;
  private readonly entrySettings: EntrySettings;
  private readonly where: string;

  constructor(
    private readonly config: RedisSinkConfig,
    private readonly ctx: SinkContext,
    private readonly createClient: RedisClientFactory = createRedisClient,
  ) {
    this.entrySettings = { stream: config.stream, format: config.format };
    this.clientSettings = {
      url: config.url,
      tls: config.tls && nodeTlsOptions(config.tls),
      connectTimeoutMs: config.connect_timeout_ms,
      timeoutMs: config.timeout_ms,
    };
    this.where = describeRedisUrl(config.url);
    this.connection = new SinkConnection({
      open: () => this.open(),
      opened: (client) => {
        // Called at once when the connection already went in the meantime.
        client.onLost((reason) => {
          if (this.connection.lost(client)) this.ctx.logger.warn({ server: this.where, reason }, 'redis sink disconnected');
        });
        this.ctx.logger.info({ server: this.where }, 'redis sink connected');
      },
      close: (client) => client.close(),
      abortError,
      connectError: (err) => (err instanceof RetriableError ? err : new RetriableError(errorMessage(err), { cause: err, code: REDIS_UNAVAILABLE })),
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
    const client = this.connection.usable();
    if (client === undefined) throw new RetriableError(`redis sink "${this.name}": not connected`, { code: REDIS_UNAVAILABLE });
    if (signal.aborted) throw abortError(signal);
    const failures: Failure[] = [];
    const sendable: StreamEntry[] = [];
    for (const event of batch) {
      const entry = toStreamEntry(event, this.entrySettings, this.ctx.format);
      const problem = streamProblem(entry.stream);
      if (problem === undefined) sendable.push(entry);
      else failures.push({ id: event.id, error: new PermanentError(`redis: ${problem}`, { code: REDIS_REJECTED }) });
    }
    if (sendable.length > 0) failures.push(...(await untilAborted(this.deliver(client, sendable), signal, abortError)));
    if (failures.length === 0) return;
    // Any entry refused only for now: the whole batch again (what EXEC wrote arrives twice, ids unchanged).
    const retriable = failures.find((f) => f.error instanceof RetriableError);
    if (retriable !== undefined) throw this.noteFailure(client, retriable.error);
    throw PermanentError.ofEvents(
      failures.map((f) => ({ id: f.id, reason: f.error.message })),
      REDIS_REJECTED,
    );
  }

  close(): Promise<void> {
    return this.connection.close();
  }

  /** One transaction; the entries refused. When the server discarded it for one entry's sake, one by one (in order) to find which. */
  private async deliver(client: RedisStreamClient, entries: readonly StreamEntry[]): Promise<Failure[]> {
    let result;
    try {
      result = await client.addEntries(entries, this.config.maxlen);
    } catch (err) {
      throw this.noteFailure(client, err);
    }
    if (result.kind === 'executed') {
      return result.outcomes.flatMap((outcome, i) => (outcome.ok ? [] : [{ id: entries[i].eventId, error: outcome.error }]));
    }
    if (result.error instanceof RetriableError || entries.length === 1) return entries.map((entry) => ({ id: entry.eventId, error: result.error }));
    const failures: Failure[] = [];
    for (const entry of entries) failures.push(...(await this.deliver(client, [entry])));
    return failures;
  }

  /** A lost connection makes the sink not ready (the runner then calls connect()), unless a newer client already replaced this one. */
  private noteFailure(client: RedisStreamClient, err: unknown): BridgeError {
    const error = err instanceof BridgeError ? err : new RetriableError(errorMessage(err), { cause: err, code: REDIS_UNAVAILABLE });
    if (error.code === REDIS_UNAVAILABLE) this.connection.lost(client);
    return error;
  }

  /** A client connected, or none left open. */
  private async open(): Promise<RedisStreamClient> {
    const client = this.createClient(this.clientSettings);
    try {
      await client.connect();
    } catch (err) {
      await client.close().catch(() => undefined);
      throw err;
    }
    return client;
  }
}

const abortError = (signal: AbortSignal): RetriableError => new RetriableError('redis: send aborted', { cause: signal.reason });

export const createSink = (config: RedisSinkConfig, ctx: SinkContext): SinkClient => new RedisSink(config, ctx);
