import { randomUUID } from 'node:crypto';
import type pg from 'pg';

/** The payload of a round trip's own notification; never an event's (those begin with `{`). */
const SYNC_PREFIX = 'pgbridge-sync:';

/**
 * A notification of the listener's own, sent and awaited: Postgres delivers
 * a channel's notifications in the order their transactions committed, so
 * once it is back, every notification of a transaction that committed before
 * it was sent has been handled. A lost connection loses it too.
 */
export class ListenerSync {
  private readonly waiting = new Map<string, (outcome: 'seen' | 'lost') => void>();

  constructor(
    private readonly pool: pg.Pool,
    private readonly channel: string,
  ) {}

  /** Sends one and resolves when the listener has it back ('seen'), or when the connection it listened on was lost ('lost'). */
  async roundTrip(): Promise<'seen' | 'lost'> {
    const token = `${SYNC_PREFIX}${randomUUID()}`;
    const back = new Promise<'seen' | 'lost'>((resolve) => this.waiting.set(token, resolve));
    try {
      await this.pool.query('SELECT pg_notify($1, $2)', [this.channel, token]);
    } catch (err) {
      this.waiting.delete(token);
      throw err;
    }
    return back;
  }

  /** Whether `payload` is a round trip's (one of this process's, or another's to ignore). */
  handled(payload: string): boolean {
    if (!payload.startsWith(SYNC_PREFIX)) return false;
    this.waiting.get(payload)?.('seen');
    this.waiting.delete(payload);
    return true;
  }

  /** The listener's connection was lost, or it stops: what is on its way will not come back. */
  lost(): void {
    for (const resolve of this.waiting.values()) resolve('lost');
    this.waiting.clear();
  }
}
