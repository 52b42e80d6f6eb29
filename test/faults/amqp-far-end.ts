/**
 * The far end of an AMQP sink for fault tests. Every message reaches one
 * queue through an alternate exchange set by policy on the bridge's exchange
 * (which has no bindings): so the route survives the exchange being deleted
 * and redeclared by the bridge, and no message is ever unroutable. The
 * consumer reconnects by itself (`rabbitmqctl close_all_connections` closes
 * it too); the broker's own redelivery of an already counted message is not
 * counted again, the bridge's republishing is.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import amqp, { type ChannelModel, type ConsumeMessage } from 'amqplib';
import { AMQP_URL } from '../support/amqp.js';
import { arrivalOf } from './harness.js';
import type { Arrival } from './tally.js';

const run = promisify(execFile);
export { AMQP_URL };

export async function rabbitmqctl(...args: string[]): Promise<void> {
  await run('rabbitmqctl', args, { timeout: 60_000 });
}

export class AmqpFarEnd {
  readonly exchange: string;
  private readonly alternate: string;
  private readonly queue: string;
  private readonly policy: string;
  private readonly seen = new Set<string>();
  private readonly arrived: Arrival[] = [];
  private connection: ChannelModel | undefined;
  private stopped = false;
  private consuming: Promise<void> = Promise.resolve();

  constructor() {
    const suffix = randomBytes(4).toString('hex');
    this.exchange = `faults-ex-${suffix}`;
    this.alternate = `faults-ae-${suffix}`;
    this.queue = `faults-q-${suffix}`;
    this.policy = `faults-${suffix}`;
  }

  async start(): Promise<void> {
    const pattern = `^${this.exchange}$`;
    await rabbitmqctl('set_policy', this.policy, pattern, JSON.stringify({ 'alternate-exchange': this.alternate }), '--apply-to', 'exchanges');
    const connection = await amqp.connect(AMQP_URL);
    const channel = await connection.createChannel();
    await channel.assertExchange(this.alternate, 'fanout', { durable: false, autoDelete: false });
    await channel.assertQueue(this.queue, { durable: false, autoDelete: false });
    await channel.bindQueue(this.queue, this.alternate, '');
    await connection.close();
    this.consuming = this.consume();
  }

  arrivals(): Arrival[] {
    return [...this.arrived];
  }

  /** Deletes the bridge's exchange from under it (a channel error on its next publish). */
  async deleteExchange(): Promise<void> {
    const connection = await amqp.connect(AMQP_URL);
    try {
      const channel = await connection.createChannel();
      await channel.deleteExchange(this.exchange);
    } finally {
      await connection.close().catch(() => {});
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.connection?.close().catch(() => {});
    await this.consuming;
    await rabbitmqctl('clear_policy', this.policy).catch(() => {});
    const connection = await amqp.connect(AMQP_URL);
    const channel = await connection.createChannel();
    for (const remove of [
      () => channel.deleteQueue(this.queue),
      () => channel.deleteExchange(this.alternate),
      () => channel.deleteExchange(this.exchange),
    ]) {
      await remove().catch(() => {});
    }
    await connection.close().catch(() => {});
  }

  private async consume(): Promise<void> {
    while (!this.stopped) {
      try {
        const connection = await amqp.connect(AMQP_URL);
        this.connection = connection;
        const closed = new Promise<void>((resolve) => connection.on('close', () => resolve()));
        connection.on('error', () => {});
        const channel = await connection.createChannel();
        await channel.prefetch(500);
        await channel.consume(this.queue, (message: ConsumeMessage | null) => {
          if (message === null) return;
          const arrival = arrivalOf(message.content.toString('utf8'));
          if (!(message.fields.redelivered && this.seen.has(arrival.eventId))) this.arrived.push(arrival);
          this.seen.add(arrival.eventId);
          channel.ack(message);
        });
        await closed;
      } catch {
        // the broker closed us mid-setup: try again
      }
      if (!this.stopped) await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}
