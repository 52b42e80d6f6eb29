import { nodeTlsOptions } from '../tls-options.js';
import { BridgeError, PermanentError, RetriableError, errorMessage } from '../../errors.js';
import type { BridgeEvent } from '../../event.js';
import type { SinkClient, SinkContext } from '../sink.js';
import { untilAborted } from '../until-aborted.js';
import { ackLevel, brokerList, type KafkaSinkConfig } from './config.js';
import { KAFKA_REJECTED, KAFKA_UNAVAILABLE } from './errors.js';
import { groupByTopic, toKafkaMessage, topicProblem, type AddressedMessage, type MessageSettings } from './message.js';
import { createKafkaProducer, type KafkaProducer, type KafkaProducerFactory, type ProducerSettings } from './producer.js';

interface Failure {
  readonly id: string;
  readonly reason: string;
}

/**
 * Produces each event as one Kafka message. Events with the same key land in
 * the same partition in batch order; key-less ones (tables without a primary
 * key, channel events) share one partition per table or channel.
 */
export class KafkaSink implements SinkClient {
  private producer: KafkaProducer | undefined;
  private ready = false;
  /** Bumped by every connect() and close(), so one that was overtaken cannot install its producer. */
  private generation = 0;
  private readonly producerSettings: ProducerSettings;
  private readonly messageSettings: MessageSettings;

  constructor(
    config: KafkaSinkConfig,
    private readonly ctx: SinkContext,
    private readonly createProducer: KafkaProducerFactory = createKafkaProducer,
  ) {
    this.messageSettings = { topic: config.topic, key: config.key, format: config.format };
    this.producerSettings = {
      brokers: brokerList(config.brokers),
      clientId: config.client_id,
      ssl: config.ssl !== null && typeof config.ssl === 'object' ? nodeTlsOptions(config.ssl) : config.ssl,
      sasl: config.sasl,
      acks: ackLevel(config.acks),
      compression: config.compression,
      timeoutMs: config.timeout_ms,
      allowAutoTopicCreation: config.allow_auto_topic_creation,
      logger: ctx.logger,
    };
  }

  /** Starts from a fresh producer each time, so it can be called again after any failure. */
  async connect(signal: AbortSignal): Promise<void> {
    const generation = ++this.generation;
    await this.dropProducer();
    const producer = this.createProducer(this.producerSettings);
    const connecting = producer.connect();
    try {
      await untilAborted(connecting, signal, abortError);
      if (generation !== this.generation) throw new RetriableError('kafka: connect overtaken by close() or another connect()');
    } catch (err) {
      // A connect still under way is torn down once it settles.
      void connecting
        .catch(() => undefined)
        .then(() => producer.disconnect())
        .catch(() => undefined);
      throw err instanceof RetriableError ? err : new RetriableError(errorMessage(err), { cause: err, code: KAFKA_UNAVAILABLE });
    }
    this.producer = producer;
    this.ready = true;
  }

  async send(batch: readonly BridgeEvent[], signal: AbortSignal): Promise<void> {
    const producer = this.producer;
    if (!this.ready || producer === undefined) throw new RetriableError('kafka: not connected', { code: KAFKA_UNAVAILABLE });
    if (signal.aborted) throw abortError(signal);
    const failures: Failure[] = [];
    const sendable: AddressedMessage[] = [];
    for (const event of batch) {
      const addressed = toKafkaMessage(event, this.messageSettings, this.ctx.format);
      const problem = topicProblem(addressed.topic);
      if (problem === undefined) sendable.push(addressed);
      else failures.push({ id: event.id, reason: `kafka: ${problem}` });
    }
    if (sendable.length > 0) failures.push(...(await this.deliver(producer, sendable, signal)));
    if (failures.length > 0) {
      throw PermanentError.ofEvents(failures, KAFKA_REJECTED);
    }
  }

  isReady(): boolean {
    return this.ready;
  }

  async close(): Promise<void> {
    this.generation++;
    await this.dropProducer();
  }

  /** Sends the messages; resolves with the ones the brokers refused for good, rejects when all should be retried. */
  private async deliver(producer: KafkaProducer, messages: AddressedMessage[], signal: AbortSignal): Promise<Failure[]> {
    try {
      await untilAborted(producer.send(groupByTopic(messages)), signal, abortError);
      return [];
    } catch (err) {
      const error = this.noteFailure(producer, err);
      if (!(error instanceof PermanentError)) throw error;
      if (messages.length === 1) return [{ id: messages[0].eventId, reason: error.message }];
      // One refused message fails the whole request: send them one by one (in order) to find it.
      const failures: Failure[] = [];
      for (const message of messages) failures.push(...(await this.deliver(producer, [message], signal)));
      return failures;
    }
  }

  /** A lost connection makes the sink not ready (the runner then calls connect()), unless a newer producer already replaced this one. */
  private noteFailure(producer: KafkaProducer, err: unknown): BridgeError {
    const error = err instanceof BridgeError ? err : new RetriableError(errorMessage(err), { cause: err });
    if (error.code === KAFKA_UNAVAILABLE && producer === this.producer) this.ready = false;
    return error;
  }

  private async dropProducer(): Promise<void> {
    const producer = this.producer;
    this.ready = false;
    this.producer = undefined;
    if (producer === undefined) return;
    try {
      await producer.disconnect();
    } catch (err) {
      this.producerSettings.logger.debug({ err: errorMessage(err) }, 'kafka disconnect failed');
    }
  }
}

const abortError = (signal: AbortSignal): RetriableError => new RetriableError('kafka: aborted', { cause: signal.reason });

export const createSink = (config: KafkaSinkConfig, ctx: SinkContext): SinkClient => new KafkaSink(config, ctx);
