/**
 * The far end of a Redis sink for fault tests: a consumer that follows one
 * stream with XREAD BLOCK, the way a Redis Streams consumer does, keeping
 * what it read in memory (so a restarted server, which keeps nothing here,
 * does not take the count with it). It reconnects by itself when the server
 * goes away. Every entry read counts, redeliveries included.
 */
import { randomBytes } from 'node:crypto';
import type { RedisClientType } from '@redis/client';
import { REDIS_URL, redisAdmin } from '../support/redis.js';
import { arrivalOf } from './harness.js';
import type { Arrival } from './tally.js';

export class RedisFarEnd {
  readonly stream = `faults:${randomBytes(4).toString('hex')}`;
  private readonly arrived: Arrival[] = [];
  private lastId = '0-0';
  private stopped = false;
  private client: RedisClientType | undefined;
  private following: Promise<void> = Promise.resolve();

  start(): void {
    this.following = this.follow();
  }

  arrivals(): Arrival[] {
    return [...this.arrived];
  }

  /** Entries read so far. */
  get count(): number {
    return this.arrived.length;
  }

  /** Resolves once the consumer has read everything the stream holds now. */
  async caughtUp(): Promise<void> {
    const admin = await redisAdmin();
    try {
      const [newest] = (await admin.xRevRange(this.stream, '+', '-', { COUNT: 1 })) ?? [];
      while (newest !== undefined && compareIds(this.lastId, newest.id) < 0) await new Promise((r) => setTimeout(r, 20));
    } finally {
      await admin.close();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.client?.destroy();
    await this.following;
    const admin = await redisAdmin().catch(() => undefined);
    await admin?.del(this.stream).catch(() => undefined);
    await admin?.close();
  }

  private async follow(): Promise<void> {
    while (!this.stopped) {
      try {
        this.client = await redisAdmin(REDIS_URL);
        while (!this.stopped) {
          const replies = await this.client.xRead({ key: this.stream, id: this.lastId }, { BLOCK: 200, COUNT: 1000 });
          for (const { messages } of (replies as Array<{ messages: Array<{ id: string; message: Record<string, string> }> }> | null) ?? []) {
            for (const { id, message } of messages) {
              this.arrived.push(arrivalOf(message.event));
              this.lastId = id;
            }
          }
        }
      } catch {
        // the server went away or was restarted: connect again
      }
      this.client?.destroy();
      this.client = undefined;
      if (!this.stopped) await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** Stream ids are ms-seq: compare numerically, part by part. */
function compareIds(a: string, b: string): number {
  const [am, as] = a.split('-').map(BigInt);
  const [bm, bs] = b.split('-').map(BigInt);
  return am !== bm ? (am < bm ? -1 : 1) : as === bs ? 0 : as < bs ? -1 : 1;
}
