import { BridgeError, PermanentError, RetriableError, errorMessage } from '../../errors.js';
import type { BridgeEvent } from '../../event.js';
import type { SinkClient, SinkContext } from '../sink.js';
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
  private client: RedisStreamClient | undefined;
  private ready = false;
  /** Bumped by every connect() and close(), so one that was overtaken cannot install its client. */
  private generation = 0;
  private readonly clientSettings: ClientSettings;
  private readonly entrySettings: EntrySettings;
  private readonly where: string;

  constructor(
    private readonly config: RedisSinkConfig,
    private readonly ctx: SinkContext,
    private readonly createClient: RedisClientFactory = createRedisClient,
  ) {
    this.entrySettings = { stream: config.stream, format: config.format };
    this.clientSettings = { url: config.url, tls: config.tls, connectTimeoutMs: config.connect_timeout_ms, timeoutMs: config.timeout_ms };
    this.where = describeRedisUrl(config.url);
  }

  private get name(): string {
    return this.config.name;
  }

  isReady(): boolean {
    return this.ready;
  }

  /** Starts from a fresh connection each time, so it can be called again after any failure. */
  async connect(signal: AbortSignal): Promise<void> {
    const generation = ++this.generation;
    await this.dropClient();
    const client = this.createClient(this.clientSettings);
    const connecting = client.connect();
    try {
      await untilAborted(connecting, signal, abortError);
      if (generation !== this.generation)
        throw new RetriableError('redis: connect overtaken by close() or another connect()', { code: REDIS_UNAVAILABLE });
    } catch (err) {
      void connecting
        .catch(() => undefined)
        .then(() => client.close())
        .catch(() => undefined);
      throw err instanceof RetriableError ? err : new RetriableError(errorMessage(err), { cause: err, code: REDIS_UNAVAILABLE });
    }
    this.client = client;
    this.ready = true;
    // Called at once when the connection already went in the meantime.
    client.onLost((reason) => {
      if (this.client !== client || !this.ready) return;
      this.ready = false;
      this.ctx.logger.warn({ sink: this.name, server: this.where, reason }, 'redis sink disconnected');
    });
    this.ctx.logger.info({ sink: this.name, server: this.where }, 'redis sink connected');
  }

  async send(batch: readonly BridgeEvent[], signal: AbortSignal): Promise<void> {
    const client = this.client;
    if (!this.ready || client === undefined) throw new RetriableError(`redis sink "${this.name}": not connected`, { code: REDIS_UNAVAILABLE });
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
    throw new PermanentError(failures[0].error.message, { failedIds: failures.map((f) => f.id), code: REDIS_REJECTED });
  }

  async close(): Promise<void> {
    this.generation++;
    await this.dropClient();
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
    if (error.code === REDIS_UNAVAILABLE && client === this.client) this.ready = false;
    return error;
  }

  private async dropClient(): Promise<void> {
    const client = this.client;
    this.ready = false;
    this.client = undefined;
    if (client === undefined) return;
    try {
      await client.close();
    } catch (err) {
      this.ctx.logger.debug({ sink: this.name, err: errorMessage(err) }, 'redis close failed');
    }
  }
}

const abortError = (signal: AbortSignal): RetriableError => new RetriableError('redis: send aborted', { cause: signal.reason });

export const createSink = (config: RedisSinkConfig, ctx: SinkContext): SinkClient => new RedisSink(config, ctx);
