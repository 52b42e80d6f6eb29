import type { KafkaProducer, KafkaProducerFactory, ProducerSettings, TopicMessages } from './producer.js';

/** kafkajs is loaded on the first connect, not at startup: a process without a kafka sink never pays for it. */
export const createLazyKafkaProducer: KafkaProducerFactory = (settings) => new LazyKafkaProducer(settings);

class LazyKafkaProducer implements KafkaProducer {
  private producer: KafkaProducer | undefined;

  constructor(private readonly settings: ProducerSettings) {}

  async connect(): Promise<void> {
    const { createKafkaProducer } = await import('./producer.js');
    this.producer ??= createKafkaProducer(this.settings);
    await this.producer.connect();
  }

  send(batches: readonly TopicMessages[]): Promise<void> {
    if (this.producer === undefined) return Promise.reject(new Error('kafka producer used before connect()'));
    return this.producer.send(batches);
  }

  async disconnect(): Promise<void> {
    await this.producer?.disconnect();
  }
}
