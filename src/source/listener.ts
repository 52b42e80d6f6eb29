import type { Logger } from 'pino';
import pg from 'pg';
import type { BridgeConfig } from '../config/types.js';
import { backoffDelay, sleep } from '../delivery/backoff.js';
import { errorMessage } from '../errors.js';
import { clientConfig, endClient, listenerPurpose, pinRenderSettings, socketOf } from '../postgres.js';
import { ident } from '../schema/quote.js';
import { CONNECTION_WATCH, ConnectionWatch } from './connection-watch.js';
import { endStrandedSessions } from '../stranded-sessions.js';

export interface ListenerHandlers {
  onNotification(channel: string, payload: string): void;
  /** Called on every (re)connection; `after` is the outage length in ms, 0 on the first. */
  onConnected(after: number): void;
}

const RECONNECT = { initial_ms: 100, max_ms: 5000, max_attempts: 0 };

/**
 * One dedicated connection that LISTENs. When it is lost (server restart,
 * pg_terminate_backend, network) it reconnects with backoff and LISTENs
 * again; it never gives up and never exits the process.
 */
export class Listener {
  private client: pg.Client | undefined;
  private stopped = false;
  private readonly stopSignal = new AbortController();
  private readonly stopRequested = new Promise<void>((resolve) => this.stopSignal.signal.addEventListener('abort', () => resolve(), { once: true }));
  private lostAt = 0;
  private paused = false;
  private watch: ConnectionWatch | undefined;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly config: Pick<BridgeConfig, 'postgres' | 'instance'>,
    private readonly channels: readonly string[],
    private readonly logger: Logger,
    private readonly handlers: ListenerHandlers,
  ) {}

  get connected(): boolean {
    return this.client !== undefined;
  }

  /** The listening connection's server process, while connected. */
  get backendPid(): number | undefined {
    return (this.client as { processID?: number } | undefined)?.processID;
  }

  /**
   * Stops reading from the connection (back-pressure): notifications wait in
   * Postgres's queue meanwhile, and arrive once `resume()` is called.
   */
  pause(): void {
    this.paused = true;
    this.watch?.suspend();
    if (this.client) socketOf(this.client).pause();
  }

  resume(): void {
    this.paused = false;
    if (this.client) socketOf(this.client).resume();
    this.watch?.resume();
  }

  start(): void {
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.stopSignal.abort();
    this.watch?.stop();
    // end() resolves on the socket's close, which a paused socket never reaches.
    this.resume();
    if (this.client) await endClient(this.client);
    await this.loop;
  }

  private async run(): Promise<void> {
    for (let attempt = 1; !this.stopped; attempt++) {
      const client = new pg.Client(clientConfig(this.config, listenerPurpose(this.config.instance)));
      const lost = new Promise<unknown>((resolve) => {
        client.on('error', resolve);
        client.on('end', () => resolve(new Error('connection ended')));
      });
      const listening = this.listenOn(client);
      try {
        // A stop does not wait for the connection being made (pg may never settle a
        // connect() that end() interrupted): it is ended below.
        await Promise.race([listening, this.stopRequested]);
      } catch (err) {
        await endClient(client);
        if (this.stopped) return;
        const delay = backoffDelay(attempt, RECONNECT);
        this.logger.warn({ err: errorMessage(err), retry_in_ms: delay }, 'cannot LISTEN on Postgres, retrying');
        await sleep(delay, this.stopSignal.signal);
        continue;
      }
      if (this.stopped) {
        await endClient(client);
        return;
      }
      attempt = 0;
      client.on('notification', (n) => {
        // Anyone can NOTIFY: whatever a payload makes a handler throw must not end the process.
        try {
          this.handlers.onNotification(n.channel, n.payload ?? '');
        } catch (err) {
          this.logger.error({ channel: n.channel, err: errorMessage(err) }, 'handling a notification failed; skipped');
        }
      });
      this.client = client;
      if (this.paused) socketOf(client).pause();
      this.watch = new ConnectionWatch(client, {
        ...CONNECTION_WATCH,
        onDead: () => this.logger.warn({ within_ms: CONNECTION_WATCH.withinMs }, "the listener's Postgres connection stopped answering; closing it"),
      });
      // Asked only while it reads: a paused socket holds notifications back on purpose, and answers nothing.
      if (this.paused) this.watch.suspend();
      const outage = this.lostAt === 0 ? 0 : Date.now() - this.lostAt;
      if (outage > 0) this.logger.info({ outage_ms: outage }, 'listener reconnected');
      else this.logger.info({ channels: this.channels }, 'listening for notifications');
      this.handlers.onConnected(outage);
      const reason = await lost;
      this.watch.stop();
      this.watch = undefined;
      this.client = undefined;
      if (this.stopped) return;
      this.lostAt = Date.now();
      this.logger.warn({ err: errorMessage(reason) }, 'listener connection lost, reconnecting');
      await endClient(client);
    }
  }

  private async listenOn(client: pg.Client): Promise<void> {
    await client.connect();
    await pinRenderSettings(client);
    // A listener left LISTENing on the server would keep every NOTIFY of the cluster queued.
    await endStrandedSessions(client, this.logger);
    for (const channel of this.channels) await client.query(`LISTEN ${ident(channel)}`);
  }
}
