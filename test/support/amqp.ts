import { randomBytes } from 'node:crypto';
import amqp, { type Channel, type ChannelModel, type ConsumeMessage } from 'amqplib';

export const AMQP_URL = process.env.PGBRIDGE_TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

export const uniqueName = (what: string): string => `pgbridge-test-${what}-${randomBytes(4).toString('hex')}`;

/** A broker connection for a test file: declares exchanges, binds recording queues, deletes what it declared. */
export class AmqpAdmin {
  private readonly exchanges: string[] = [];

  private constructor(
    private readonly connection: ChannelModel,
    private readonly channel: Channel,
  ) {}

  static async connect(): Promise<AmqpAdmin> {
    const connection = await amqp.connect(AMQP_URL);
    return new AmqpAdmin(connection, await connection.createChannel());
  }

  /** A durable exchange of `type` with a fresh name, deleted by close(). */
  async exchange(type: 'topic' | 'direct'): Promise<string> {
    const name = uniqueName(type);
    await this.channel.assertExchange(name, type, { durable: true });
    this.exchanges.push(name);
    return name;
  }

  /** A queue of its own (gone with this connection) bound with each pattern, recording what it receives. */
  async queue(exchange: string, ...patterns: string[]): Promise<RecordingQueue> {
    const { queue } = await this.channel.assertQueue('', { exclusive: true });
    for (const pattern of patterns) await this.channel.bindQueue(queue, exchange, pattern);
    const recording = new RecordingQueue();
    await this.channel.consume(queue, (message) => message && recording.messages.push(message), { noAck: true });
    return recording;
  }

  async close(): Promise<void> {
    for (const name of this.exchanges) await this.channel.deleteExchange(name).catch(() => {});
    await this.connection.close().catch(() => {});
  }
}

export class RecordingQueue {
  readonly messages: ConsumeMessage[] = [];

  /** Message bodies parsed as JSON. */
  bodies<T>(): T[] {
    return this.messages.map((m) => JSON.parse(m.content.toString('utf8')) as T);
  }
}
