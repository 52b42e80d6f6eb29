import type { Logger } from 'pino';
import type pg from 'pg';
import type { BridgeConfig } from '../config/types.js';
import { sleep } from '../delivery/backoff.js';
import { errorMessage } from '../errors.js';
import { LOCK_SQL } from '../schema/outbox.js';
import { connectClient, endClient } from '../postgres.js';
import { CONNECTION_WATCH, ConnectionWatch } from './connection-watch.js';
import { assertOwnSession, NoOwnSessionError } from './session-check.js';
import { endStrandedSessions } from '../stranded-sessions.js';

/** Why a held lock was lost: its connection closed or failed, or stopped answering (then other connections may hang too). */
export type LockLoss = 'closed' | 'unanswered';

/**
 * Several `pgbridge run` on one database: the one holding this advisory lock
 * (on its own connection) delivers, the others poll for it. Postgres releases
 * the lock when the holder's session ends, so a dead or cut-off holder is
 * replaced within one poll interval.
 */
export class LeaderLock {
  private client: pg.Client | undefined;
  private watch: ConnectionWatch | undefined;
  /** The connection used to poll or hold the lock is up. */
  connected = false;

  constructor(
    private readonly config: BridgeConfig,
    private readonly logger: Logger,
    private readonly pollMs = 1000,
  ) {}

  /**
   * Resolves holding the lock, with a promise that settles when it is lost and
   * the database's name (asked in the same round trip); undefined when stopped first. Rejects with NoOwnSessionError, before any
   * lock is taken, when the connection is not a session of its own (a pooler).
   * `onStandby` is called once, when another instance is first found holding it.
   */
  async acquire(signal: AbortSignal, onStandby: () => void = () => {}): Promise<{ lost: Promise<LockLoss>; database: string } | undefined> {
    let announced = false;
    while (!signal.aborted) {
      let client: pg.Client | undefined;
      try {
        client = await connectClient(this.config, 'lock');
        this.connected = true;
        let unanswered = false;
        const lost = new Promise<LockLoss>((resolve) => {
          const down = () => {
            this.connected = false;
            resolve(unanswered ? 'unanswered' : 'closed');
          };
          client!.on('error', down);
          client!.on('end', down);
        });
        this.watch = new ConnectionWatch(client, {
          ...CONNECTION_WATCH,
          onDead: () => {
            unanswered = true;
            this.logger.warn({ within_ms: CONNECTION_WATCH.withinMs }, "the delivery lock's Postgres connection stopped answering; closing it");
          },
        });
        await assertOwnSession(client, this.config);
        // One that held the lock before its connection stopped answering would hold it for hours.
        await endStrandedSessions(client, this.logger);
        while (!signal.aborted) {
          const { rows } = await client.query<{ locked: boolean; database: string }>(LOCK_SQL, [this.config.instance]);
          if (rows[0].locked) {
            this.client = client;
            this.logger.info({ instance: this.config.instance }, 'holding the delivery lock: this instance delivers');
            return { lost, database: rows[0].database };
          }
          if (!announced) {
            this.logger.info({ instance: this.config.instance }, 'another pgbridge instance delivers; standing by');
            announced = true;
            onStandby();
          }
          await Promise.race([sleep(this.pollMs, signal), lost]);
        }
      } catch (err) {
        this.connected = false;
        if (err instanceof NoOwnSessionError) {
          await this.end(client);
          throw err;
        }
        this.logger.warn({ err: errorMessage(err) }, 'cannot reach Postgres for the delivery lock, retrying');
        await sleep(this.pollMs, signal);
      }
      await this.end(client);
    }
    return undefined;
  }

  async release(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    this.connected = false;
    await this.end(client);
  }

  private async end(client: pg.Client | undefined): Promise<void> {
    this.watch?.stop();
    this.watch = undefined;
    if (client) await endClient(client);
  }
}
