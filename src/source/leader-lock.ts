import type { Logger } from 'pino';
import type pg from 'pg';
import type { BridgeConfig } from '../config/types.js';
import { sleep } from '../delivery/backoff.js';
import { errorMessage } from '../errors.js';
import { LOCK_SQL } from '../schema/outbox.js';
import { connectClient } from '../postgres.js';
import { assertOwnSession, NoOwnSessionError } from './session-check.js';

/**
 * Several `pgbridge run` on one database: the one holding this advisory lock
 * (on its own connection) delivers, the others poll for it. Postgres releases
 * the lock when the holder's session ends, so a dead or cut-off holder is
 * replaced within one poll interval.
 */
export class LeaderLock {
  private client: pg.Client | undefined;
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
  async acquire(signal: AbortSignal, onStandby: () => void = () => {}): Promise<{ lost: Promise<void>; database: string } | undefined> {
    let announced = false;
    while (!signal.aborted) {
      let client: pg.Client | undefined;
      try {
        client = await connectClient(this.config, 'lock');
        this.connected = true;
        const lost = new Promise<void>((resolve) => {
          const down = () => {
            this.connected = false;
            resolve();
          };
          client!.on('error', down);
          client!.on('end', down);
        });
        await assertOwnSession(client, this.config);
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
          await client?.end().catch(() => {});
          throw err;
        }
        this.logger.warn({ err: errorMessage(err) }, 'cannot reach Postgres for the delivery lock, retrying');
        await sleep(this.pollMs, signal);
      }
      await client?.end().catch(() => {});
    }
    return undefined;
  }

  async release(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    this.connected = false;
    await client?.end().catch(() => {});
  }
}
