import type { Logger } from 'pino';
import { errorMessage, RetriableError } from '../errors.js';
import { untilAborted } from './until-aborted.js';

/** How one sink type opens and closes its connection (a client, a session: whatever it sends on). */
export interface ConnectionHandlers<C> {
  /** Opens a fresh connection; on failure it leaves nothing open and rejects (a RetriableError, ideally). */
  open(signal: AbortSignal): Promise<C>;
  /** Installed as the one in use: attach loss listeners (which call lost()), log. */
  opened?(connection: C): void;
  /** Closes a connection that is no longer wanted; a rejection is logged (debug), never thrown. */
  close(connection: C): Promise<void>;
  /** The rejection of a connect() whose signal aborted. */
  abortError(signal: AbortSignal): unknown;
  /** What connect() rejects with when opening failed (default: open()'s own rejection). */
  connectError?(err: unknown): unknown;
  /** The sink's logger (bound to its name). */
  readonly logger: Logger;
}

/**
 * The connection state a broker sink keeps: the one connection in use,
 * whether it can be used (isReady, /readyz), one connect at a time, and every
 * connection that is replaced, overtaken by close() or opened too late closed.
 * Sinks do not reconnect by themselves: on loss they call lost(), turn not
 * ready, and the delivery runner calls connect() again.
 */
export class SinkConnection<C> {
  private current: C | undefined;
  private ready = false;
  private connecting: Promise<void> | undefined;
  /** Bumped by every open and close(), so an open overtaken by close() cannot install its connection. */
  private generation = 0;

  constructor(private readonly handlers: ConnectionHandlers<C>) {}

  isReady(): boolean {
    return this.ready;
  }

  /** The connection to send on, or undefined while there is none that can be used. */
  usable(): C | undefined {
    return this.ready ? this.current : undefined;
  }

  /** Starts from a fresh connection unless one is usable; callers at the same time share one attempt. */
  connect(signal: AbortSignal): Promise<void> {
    if (this.ready) return Promise.resolve();
    this.connecting ??= this.reopen(signal)
      .catch((err: unknown) => {
        throw this.handlers.connectError === undefined ? err : this.handlers.connectError(err);
      })
      .finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  /** `connection` is gone. True when that made the sink not ready; false for one already replaced, closed or known lost. */
  lost(connection: C): boolean {
    if (connection !== this.current || !this.ready) return false;
    this.ready = false;
    return true;
  }

  /** Closes the connection, and one still being opened once it is open. */
  async close(): Promise<void> {
    this.generation++;
    await this.connecting?.catch(() => undefined);
    await this.drop();
  }

  private async reopen(signal: AbortSignal): Promise<void> {
    const generation = ++this.generation;
    await this.drop();
    const connection = await untilAborted(
      this.handlers.open(signal),
      signal,
      (aborted) => this.handlers.abortError(aborted),
      (late) => void this.dispose(late),
    );
    if (generation !== this.generation) {
      await this.dispose(connection);
      throw new RetriableError('connect overtaken by close()', { code: 'PGBRIDGE_NOT_CONNECTED' });
    }
    this.current = connection;
    this.ready = true;
    this.handlers.opened?.(connection);
  }

  private async drop(): Promise<void> {
    const connection = this.current;
    this.current = undefined;
    this.ready = false;
    if (connection !== undefined) await this.dispose(connection);
  }

  private async dispose(connection: C): Promise<void> {
    try {
      await this.handlers.close(connection);
    } catch (err) {
      this.handlers.logger.debug({ err: errorMessage(err) }, 'close failed');
    }
  }
}
