/**
 * The only file that knows @redis/client (node-redis), loaded with the sink's
 * runtime module only (see descriptor.ts). A batch is one
 * MULTI … EXEC of XADDs: Redis runs it whole or not at all, so a batch the
 * server refuses for now (OOM, a dropped connection before EXEC) leaves
 * nothing half-written that a retry would reorder.
 */
import type { ConnectionOptions } from 'node:tls';
import { createClient, ErrorReply, MultiErrorReply, type RedisClientType } from '@redis/client';
import type { PermanentError, RetriableError } from '../../errors.js';
import type { StreamEntry } from './entry.js';
import { fromReply, replyCode, unavailable } from './errors.js';

export interface ClientSettings {
  readonly url: string;
  readonly tls: Readonly<Record<string, unknown>> | null;
  readonly connectTimeoutMs: number;
  /** How long a batch may wait for EXEC's reply before the connection is given up. */
  readonly timeoutMs: number;
}

/** One entry's result: its stream entry id, or why the server refused it. */
export type EntryOutcome = { readonly ok: true; readonly entryId: string } | { readonly ok: false; readonly error: RetriableError | PermanentError };

export type BatchResult =
  /** EXEC ran: one outcome per entry, in order. */
  | { readonly kind: 'executed'; readonly outcomes: readonly EntryOutcome[] }
  /** The server refused a command while queueing it and discarded the whole transaction: nothing was written. */
  | { readonly kind: 'discarded'; readonly error: RetriableError | PermanentError };

/** Rejections are pgbridge RetriableErrors (connection lost or not usable: the outcome is unknown), never node-redis ones. */
export interface RedisStreamClient {
  connect(): Promise<void>;
  addEntries(entries: readonly StreamEntry[], maxlen: number | null): Promise<BatchResult>;
  /** `listener` is called once, when the connection is gone for whatever reason (server, network, timeout, close). */
  onLost(listener: (reason: string) => void): void;
  close(): Promise<void>;
}

export type RedisClientFactory = (settings: ClientSettings) => RedisStreamClient;

const CLOSE_TIMEOUT_MS = 2000;

export const createRedisClient: RedisClientFactory = (settings) => new NodeRedisClient(settings);

class NodeRedisClient implements RedisStreamClient {
  private client: RedisClientType | undefined;
  private lostListener: ((reason: string) => void) | undefined;
  private lostReason: string | undefined;
  private lastError: string | undefined;

  constructor(private readonly settings: ClientSettings) {}

  onLost(listener: (reason: string) => void): void {
    this.lostListener = listener;
    if (this.lostReason !== undefined) listener(this.lostReason);
  }

  async connect(): Promise<void> {
    const { url, tls, connectTimeoutMs } = this.settings;
    const secure = url.startsWith('rediss:');
    const client = createClient({
      url,
      // The delivery runner owns reconnecting (with its backoff); a command never waits in an offline queue.
      disableOfflineQueue: true,
      socket: secure
        ? { ...(tls as ConnectionOptions | null), tls: true, connectTimeout: connectTimeoutMs, reconnectStrategy: false }
        : { connectTimeout: connectTimeoutMs, reconnectStrategy: false },
    }) as RedisClientType;
    this.client = client;
    client.on('error', (err: unknown) => {
      this.lastError = err instanceof Error ? err.message : String(err);
    });
    // With reconnectStrategy false a lost socket ends the client with 'terminated' (and 'error'), never
    // 'end', which only destroy() and close() emit: without this an idle sink stayed ready on a dead socket.
    client.on('terminated', (cause: unknown) => this.lose(cause instanceof Error ? cause.message : String(cause)));
    client.on('end', () => this.lose(this.lastError ?? 'connection closed'));
    try {
      await client.connect();
    } catch (err) {
      this.lose(err instanceof Error ? err.message : String(err));
      client.destroy();
      throw unavailable(`cannot connect${secure ? ' (TLS)' : ''}`, err);
    }
  }

  async addEntries(entries: readonly StreamEntry[], maxlen: number | null): Promise<BatchResult> {
    const { client } = this;
    if (client === undefined || this.lostReason !== undefined) throw unavailable('not connected', this.lostReason ?? 'no connection');
    const trim = maxlen === null ? undefined : { TRIM: { strategy: 'MAXLEN' as const, strategyModifier: '~' as const, threshold: maxlen } };
    const multi = client.multi();
    // node-redis only reads the fields (in order); no copy per entry.
    for (const entry of entries) multi.xAdd(entry.stream, '*', entry.fields, trim);
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(unavailable('no reply', `none within ${this.settings.timeoutMs} ms`));
        this.lose(`no reply within ${this.settings.timeoutMs} ms`);
        client.destroy();
      }, this.settings.timeoutMs);
    });
    try {
      const replies = await Promise.race([multi.exec(), deadline]);
      return { kind: 'executed', outcomes: replies.map((reply) => ({ ok: true, entryId: String(reply as unknown as string) })) };
    } catch (err) {
      if (err instanceof MultiErrorReply) {
        const outcomes = err.replies.map((reply, i): EntryOutcome => {
          if (!(reply instanceof ErrorReply)) return { ok: true, entryId: String(reply) };
          return { ok: false, error: fromReply({ code: replyCode(reply.message), message: reply.message }, entries[i].stream) };
        });
        return { kind: 'executed', outcomes };
      }
      // A queued command's refusal: Redis answered EXECABORT and wrote nothing.
      if (err instanceof ErrorReply) {
        const stream = entries.length === 1 ? entries[0].stream : `${entries.length} streams`;
        return { kind: 'discarded', error: fromReply({ code: replyCode(err.message), message: err.message }, stream) };
      }
      if (this.lostReason === undefined) {
        this.lose(err instanceof Error ? err.message : String(err));
        client.destroy();
      }
      throw unavailable('connection lost before EXEC was answered', this.lostReason ?? err);
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (client === undefined) return;
    this.lose('closed');
    if (!client.isOpen) return;
    // close() waits for the replies still due; a black-holed server never sends them.
    const closing = client.close().catch(() => undefined);
    const timer = setTimeout(() => client.destroy(), CLOSE_TIMEOUT_MS);
    await closing;
    clearTimeout(timer);
  }

  private lose(reason: string): void {
    if (this.lostReason !== undefined) return;
    this.lostReason = reason;
    this.lostListener?.(reason);
  }
}
