import { nodeTlsOptions } from '../tls-options.js';
import { randomBytes } from 'node:crypto';
import { PermanentError, RetriableError } from '../../errors.js';
import type { BridgeEvent } from '../../event.js';
import type { SinkClient, SinkContext } from '../sink.js';
import { SinkConnection } from '../sink-connection.js';
import { untilAborted } from '../until-aborted.js';
import { connectMqtt, type ConnectionSettings, type MqttConnection, type MqttConnector } from './client.js';
import { describeBroker, type MqttSinkConfig } from './config.js';
import { cannotConnect, MQTT_REJECTED, MQTT_UNAVAILABLE } from './errors.js';
import { publishPacketBytes, toMqttMessage, topicProblem, type MessageSettings, type MqttMessage } from './message.js';

interface Failure {
  readonly id: string;
  readonly reason: string;
}

/**
 * Publishes each batch pipelined on one MQTT 5 connection (QoS 1 or 2) and
 * resolves once the broker acknowledged every message. Per row, events stay
 * in order: the runner keeps a row in one lane, and one connection delivers
 * in the order published. It does not reconnect by itself: on loss it turns
 * not ready and the delivery runner calls connect() again.
 */
export class MqttSink implements SinkClient {
  private readonly where: string;
  private readonly messageSettings: MessageSettings;
  private readonly connection: SinkConnection<MqttConnection>;

  constructor(
    private readonly config: MqttSinkConfig,
    private readonly ctx: SinkContext,
    private readonly connector: MqttConnector = connectMqtt,
  ) {
    this.where = `mqtt sink "${config.name}" (${describeBroker(config.url)})`;
    this.messageSettings = { topic: config.topic, format: config.format };
    this.connection = new SinkConnection({
      open: (signal) => this.connector(this.connectionSettings(), signal),
      opened: (connection) => this.opened(connection),
      close: (connection) => connection.close(),
      abortError: () => cannotConnect(this.where, 'aborted'),
      logger: ctx.logger,
    });
  }

  isReady(): boolean {
    return this.connection.isReady();
  }

  connect(signal: AbortSignal): Promise<void> {
    return this.connection.connect(signal);
  }

  private opened(connection: MqttConnection): void {
    void connection.lost.then((reason) => {
      if (this.connection.lost(connection)) this.ctx.logger.warn({ reason }, 'mqtt sink disconnected');
    });
    this.ctx.logger.info(
      {
        broker: describeBroker(this.config.url),
        qos: this.config.qos,
        receive_maximum: connection.limits.receiveMaximum,
        maximum_packet_size: connection.limits.maximumPacketSize,
      },
      'mqtt sink connected',
    );
  }

  async send(batch: readonly BridgeEvent[], signal: AbortSignal): Promise<void> {
    const connection = this.connection.usable();
    if (connection === undefined) throw new RetriableError(`${this.where}: not connected`, { code: MQTT_UNAVAILABLE });
    if (signal.aborted) throw new RetriableError(`${this.where}: send aborted`, { cause: signal.reason });

    const failures: Failure[] = [];
    const sendable: MqttMessage[] = [];
    for (const event of batch) {
      const message = toMqttMessage(event, this.messageSettings, this.ctx.format);
      const problem = this.problemOf(message, connection);
      if (problem === undefined) sendable.push(message);
      else failures.push({ id: event.id, reason: `${this.where}: ${problem}` });
    }
    // Every publish is handed over before the first acknowledgement is awaited: one pipelined batch, in order.
    const outcomes = await untilAborted(connection.publish(sendable), signal, abortError);
    let retriable: RetriableError | undefined;
    outcomes.forEach((outcome, i) => {
      if (outcome instanceof PermanentError) failures.push({ id: sendable[i].eventId, reason: outcome.message });
      else if (outcome !== undefined) retriable ??= outcome;
    });
    // Sent again whole: what was acknowledged arrives twice, which at-least-once allows.
    if (retriable !== undefined) throw retriable;
    if (failures.length > 0) {
      throw PermanentError.ofEvents(failures, MQTT_REJECTED);
    }
  }

  close(): Promise<void> {
    return this.connection.close();
  }

  /** Why this message cannot be published for good, found before it goes out: the broker would drop the whole connection for it. */
  private problemOf(message: MqttMessage, connection: MqttConnection): string | undefined {
    const topic = topicProblem(message.topic);
    if (topic !== undefined) return topic;
    const limit = connection.limits.maximumPacketSize;
    const bytes = limit === undefined ? 0 : publishPacketBytes(message);
    if (limit !== undefined && bytes > limit) {
      return `event is a ${bytes}-byte PUBLISH packet, over the broker's Maximum Packet Size of ${limit} bytes`;
    }
    return undefined;
  }

  private connectionSettings(): ConnectionSettings {
    const config = this.config;
    return {
      url: config.url,
      where: this.where,
      clientId: config.client_id ?? `pgbridge-${config.name}-${randomBytes(4).toString('hex')}`,
      username: config.username,
      password: config.password,
      tls: config.tls && nodeTlsOptions(config.tls),
      qos: config.qos,
      keepaliveS: config.keepalive_s,
      connectTimeoutMs: config.connect_timeout_ms,
      publishTimeoutMs: config.timeout_ms,
    };
  }
}

/** The batch is handed back when the runner gives up waiting, e.g. at shutdown. */
const abortError = (signal: AbortSignal): RetriableError => new RetriableError('mqtt: send aborted', { cause: signal.reason });

export const createSink = (config: MqttSinkConfig, ctx: SinkContext): SinkClient => new MqttSink(config, ctx);
