/**
 * The only file that knows kafkajs (with errors.ts). kafkajs is in maintenance
 * mode: replacing it means rewriting this adapter, not the sink.
 */
import type { Logger } from 'pino';
import {
  CompressionTypes,
  Kafka,
  Partitioners,
  logLevel,
  type ICustomPartitioner,
  type LogEntry,
  type Message,
  type Producer,
  type SASLOptions,
} from 'kafkajs';
import type { Compression, KafkaSaslConfig } from './config.js';
import { fromKafkaJsError } from './errors.js';

export interface OutgoingMessage {
  /** null: no key; the message is then placed by `orderingKey`. */
  readonly key: string | null;
  readonly value: string;
  readonly headers: Readonly<Record<string, string>>;
  /** Key-less messages with the same ordering key go to one partition, so they stay in order. */
  readonly orderingKey: string;
}

export interface TopicMessages {
  readonly topic: string;
  readonly messages: readonly OutgoingMessage[];
}

export interface ProducerSettings {
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly ssl: boolean | Readonly<Record<string, unknown>> | null;
  readonly sasl: KafkaSaslConfig | null;
  readonly acks: -1 | 0 | 1;
  readonly compression: Compression;
  readonly timeoutMs: number;
  readonly allowAutoTopicCreation: boolean;
  readonly logger: Logger;
}

/** Rejections are pgbridge errors (RetriableError / PermanentError), never kafkajs ones. */
export interface KafkaProducer {
  connect(): Promise<void>;
  /** Resolves once the brokers acknowledged every message (as `acks` asks). */
  send(batches: readonly TopicMessages[]): Promise<void>;
  disconnect(): Promise<void>;
}

export type KafkaProducerFactory = (settings: ProducerSettings) => KafkaProducer;

/** Quick retries for leader moves and metadata refreshes only: the delivery runner owns backoff. */
const RETRY = { retries: 2, initialRetryTime: 100, maxRetryTime: 1000 };
const CONNECTION_TIMEOUT_MS = 5000;

const COMPRESSION: Record<Compression, CompressionTypes> = {
  none: CompressionTypes.None,
  gzip: CompressionTypes.GZIP,
};

export const createKafkaProducer: KafkaProducerFactory = (settings) => new KafkaJsProducer(settings);

class KafkaJsProducer implements KafkaProducer {
  private readonly producer: Producer;
  /** Set per send, read by the partitioner: kafkajs hands it our very message objects. */
  private readonly orderingKeys = new WeakMap<Message, string>();
  private readonly sending = new Set<Promise<unknown>>();

  constructor(private readonly settings: ProducerSettings) {
    const kafka = new Kafka({
      brokers: [...settings.brokers],
      clientId: settings.clientId,
      ssl: settings.ssl === null ? undefined : settings.ssl,
      sasl: saslOptions(settings.sasl),
      connectionTimeout: CONNECTION_TIMEOUT_MS,
      requestTimeout: settings.timeoutMs,
      retry: RETRY,
      logLevel: logLevel.WARN,
      logCreator: pinoLogCreator(settings.logger),
    });
    this.producer = kafka.producer({
      // Never idempotent by default: it needs broker features some Kafka-compatible brokers lack.
      idempotent: false,
      allowAutoTopicCreation: settings.allowAutoTopicCreation,
      retry: RETRY,
      createPartitioner: this.partitioner,
    });
  }

  async connect(): Promise<void> {
    try {
      await this.producer.connect();
    } catch (err) {
      throw fromKafkaJsError(err);
    }
  }

  async send(batches: readonly TopicMessages[]): Promise<void> {
    const topicMessages = batches.map(({ topic, messages }) => ({ topic, messages: messages.map((m) => this.toMessage(m)) }));
    const sending = this.producer.sendBatch({
      topicMessages,
      acks: this.settings.acks,
      timeout: this.settings.timeoutMs,
      compression: COMPRESSION[this.settings.compression],
    });
    this.sending.add(sending);
    try {
      await sending;
    } catch (err) {
      throw fromKafkaJsError(err);
    } finally {
      this.sending.delete(sending);
    }
  }

  async disconnect(): Promise<void> {
    const unsettled = [...this.sending];
    if (unsettled.length > 0) {
      // A send the caller gave up on (aborted) goes on, and reconnects kafkajs
      // behind a disconnect: close once more when it has settled, or its sockets stay open.
      void Promise.allSettled(unsettled)
        .then(() => this.producer.disconnect())
        .catch(() => undefined);
    }
    try {
      await this.producer.disconnect();
    } catch (err) {
      throw fromKafkaJsError(err);
    }
  }

  private toMessage(message: OutgoingMessage): Message {
    // The headers object is the message's own (built per event) and kafkajs only reads it: no copy.
    const out: Message = { key: message.key, value: message.value, headers: message.headers };
    if (message.key === null) this.orderingKeys.set(out, message.orderingKey);
    return out;
  }

  /**
   * kafkajs' default (Java-compatible murmur2) partitioner, except that a
   * key-less message is hashed by its ordering key instead of round-robin.
   */
  private readonly partitioner: ICustomPartitioner = () => {
    const byKey = Partitioners.DefaultPartitioner();
    return (args) => {
      const orderingKey = this.orderingKeys.get(args.message);
      if (orderingKey === undefined) return byKey(args);
      return byKey({ ...args, message: { ...args.message, key: orderingKey } });
    };
  };
}

function saslOptions(sasl: KafkaSaslConfig | null): SASLOptions | undefined {
  if (sasl === null) return undefined;
  const { username, password } = sasl;
  switch (sasl.mechanism) {
    case 'plain':
      return { mechanism: 'plain', username, password };
    case 'scram-sha-256':
      return { mechanism: 'scram-sha-256', username, password };
    case 'scram-sha-512':
      return { mechanism: 'scram-sha-512', username, password };
  }
}

/** kafkajs' own log lines, at warn and above, into the service log; extra fields are dropped (they may echo config). */
function pinoLogCreator(logger: Logger) {
  const log = logger.child({ library: 'kafkajs' });
  return () =>
    ({ namespace, level, log: entry }: LogEntry): void => {
      if (level > logLevel.WARN) return;
      const broker: unknown = entry.broker;
      log.warn({ namespace, ...(typeof broker === 'string' ? { broker } : {}) }, String(entry.message));
    };
}
