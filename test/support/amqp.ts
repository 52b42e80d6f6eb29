/**
 * The far end of the AMQP sink for every test: a broker connection that
 * declares exchanges, binds queues that record what they receive, reads a
 * queue as it is at one moment (basic.get), and deletes what it declared.
 */
import { randomBytes } from 'node:crypto';
import type { TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import amqp, { type Channel, type ChannelModel, type ConsumeMessage, type GetMessage, type Message } from 'amqplib';

export const AMQP_URL = process.env.PGBRIDGE_TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

export const uniqueName = (what: string): string => `pgbridge-test-${what}-${randomBytes(4).toString('hex')}`;

/** A message as a test reads it: body text, and properties and headers as strings. */
export interface AmqpArrival {
  readonly routingKey: string;
  readonly body: string;
  /** The application headers plus `content-type` and `message-id` from the properties. */
  readonly headers: Readonly<Record<string, string>>;
}

export function arrivalOf(message: Message): AmqpArrival {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(message.properties.headers ?? {})) headers[name] = String(value);
  headers['content-type'] = String(message.properties.contentType);
  headers['message-id'] = String(message.properties.messageId);
  return { routingKey: message.fields.routingKey, body: message.content.toString('utf8'), headers };
}

export class AmqpAdmin {
  private readonly exchanges = new Set<string>();
  private readonly queues = new Set<string>();

  private constructor(private readonly connection: ChannelModel) {}

  static async connect(): Promise<AmqpAdmin> {
    return new AmqpAdmin(await amqp.connect(AMQP_URL));
  }

  /** A channel of its own: a broker error on it (a failed passive check) closes only this one. Closed after `t`, if given. */
  async channel(t?: TestContext): Promise<Channel> {
    const channel = await this.connection.createChannel();
    channel.on('error', () => {});
    t?.after(() => channel.close().catch(() => {}));
    return channel;
  }

  /** A durable exchange of `type` with a fresh name, deleted after `t` (if given) or by close(). */
  async exchange(type = 'topic', t?: TestContext): Promise<string> {
    const name = uniqueName(type);
    const channel = await this.channel();
    await channel.assertExchange(name, type, { durable: true });
    await channel.close();
    this.exchanges.add(name);
    t?.after(() => this.deleteExchange(name));
    return name;
  }

  /** Deletes an exchange (also one the sink declared) now. */
  async deleteExchange(name: string): Promise<void> {
    this.exchanges.delete(name);
    const channel = await this.channel();
    await channel.deleteExchange(name).catch(() => {});
    await channel.close().catch(() => {});
  }

  /** A queue bound to `exchange` with each pattern whose consumer records every message; deleted after `t` (if given) or by close(). */
  async queue(exchange: string, patterns: string | readonly string[], t?: TestContext): Promise<RecordingQueue> {
    const channel = await this.channel();
    const queue = await this.boundQueue(channel, exchange, patterns, t);
    const recording = new RecordingQueue();
    await channel.consume(queue, (message) => message && recording.messages.push(message), { noAck: true });
    return recording;
  }

  /** A bound queue read by basic.get: read() returns what reached it up to this moment, never waiting for more. */
  async polledQueue(exchange: string, patterns: string | readonly string[], t?: TestContext): Promise<PolledQueue> {
    const channel = await this.channel();
    return new PolledQueue(channel, await this.boundQueue(channel, exchange, patterns, t));
  }

  async close(): Promise<void> {
    const channel = await this.channel().catch(() => undefined);
    for (const name of this.queues) await channel?.deleteQueue(name).catch(() => {});
    for (const name of this.exchanges) await channel?.deleteExchange(name).catch(() => {});
    await this.connection.close().catch(() => {});
  }

  private async boundQueue(channel: Channel, exchange: string, patterns: string | readonly string[], t?: TestContext): Promise<string> {
    const { queue } = await channel.assertQueue(uniqueName('q'), { durable: false, autoDelete: false });
    this.queues.add(queue);
    t?.after(async () => {
      this.queues.delete(queue);
      const cleanup = await this.channel();
      await cleanup.deleteQueue(queue).catch(() => {});
      await cleanup.close().catch(() => {});
    });
    for (const pattern of typeof patterns === 'string' ? [patterns] : patterns) await channel.bindQueue(queue, exchange, pattern);
    return queue;
  }
}

/** What a consumer received, in arrival order. */
export class RecordingQueue {
  readonly messages: ConsumeMessage[] = [];

  /** Message bodies parsed as JSON. */
  bodies<T>(): T[] {
    return this.messages.map((m) => JSON.parse(m.content.toString('utf8')) as T);
  }

  arrivals(): AmqpArrival[] {
    return this.messages.map(arrivalOf);
  }

  /** message_id of each message, in arrival order. */
  ids(): string[] {
    return this.messages.map((m) => String(m.properties.messageId));
  }

  /** Waits for `count` messages, then a little longer so that extra ones would show up too. */
  async settle(count: number, timeoutMs = 5000): Promise<ConsumeMessage[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.messages.length < count && Date.now() < deadline) await sleep(20);
    await sleep(200);
    return this.messages;
  }
}

export class PolledQueue {
  private readonly got: AmqpArrival[] = [];

  constructor(
    private readonly channel: Channel,
    readonly name: string,
  ) {}

  /** Everything that reached the queue so far, in queue order. */
  async read(): Promise<AmqpArrival[]> {
    for (
      let message: GetMessage | false = await this.channel.get(this.name, { noAck: true });
      message !== false;
      message = await this.channel.get(this.name, { noAck: true })
    ) {
      this.got.push(arrivalOf(message));
    }
    return [...this.got];
  }
}
