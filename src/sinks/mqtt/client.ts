/**
 * The only file that knows MQTT.js. One connection per connect(), never
 * reconnected by MQTT.js itself (the delivery runner owns that), and every
 * failure translated here into RetriableError / PermanentError.
 */
import type { IClientOptions, MqttClient } from 'mqtt';
import { errorMessage, PermanentError, RetriableError } from '../../errors.js';
import { percentDecoded } from '../../config/secrets.js';
import type { ConfirmedQos } from './config.js';
import { cannotConnect, connectionLost, fromConnackReasonCode, fromPublishReasonCode, MQTT_RETRIABLE, reasonName } from './errors.js';
import type { MqttMessage, PublishProperties } from './message.js';
import { publishInRowOrder } from '../row-order.js';

export interface ConnectionSettings {
  /** The configured URL; its credentials are read here, never handed to MQTT.js inside the URL. */
  readonly url: string;
  /** Names the sink and broker in messages, without credentials. */
  readonly where: string;
  readonly clientId: string;
  readonly username: string | null;
  readonly password: string | null;
  readonly tls: Readonly<Record<string, unknown>> | null;
  readonly qos: ConfirmedQos;
  readonly keepaliveS: number;
  readonly connectTimeoutMs: number;
  readonly publishTimeoutMs: number;
}

/** What the broker announced in its CONNACK (MQTT 5 §3.2.2.3). */
export interface BrokerLimits {
  /** Unacknowledged QoS 1/2 publishes the broker takes at once (default 65,535). */
  readonly receiveMaximum: number;
  /** Largest packet the broker accepts; undefined: no limit announced. */
  readonly maximumPacketSize: number | undefined;
}

/** What became of one message: acknowledged (undefined), or the pgbridge error it failed with (never an MQTT.js one). */
export type PublishOutcome = undefined | PermanentError | RetriableError;

export interface MqttConnection {
  readonly limits: BrokerLimits;
  /** Resolves with the reason once the connection is gone, whoever ended it. */
  readonly lost: Promise<string>;
  /**
   * Publishes the messages in order, pipelined, and resolves (never rejects)
   * once each is settled: acknowledged by PUBACK (QoS 1) or PUBCOMP (QoS 2),
   * refused for good (PermanentError) or failed for now (RetriableError).
   * Messages of later calls go out after these.
   */
  publish(messages: readonly MqttMessage[]): Promise<PublishOutcome[]>;
  /** Sends DISCONNECT (or cuts the socket when the broker does not take it); fails what is still unacknowledged. */
  close(): Promise<void>;
}

export type MqttConnector = (settings: ConnectionSettings, signal: AbortSignal) => Promise<MqttConnection>;

/** The parts of CONNACK and DISCONNECT (mqtt-packet's shapes) read here. */
interface Connack {
  readonly properties?: { readonly receiveMaximum?: number; readonly maximumPacketSize?: number };
}
interface Disconnect {
  readonly reasonCode?: number;
}

const DEFAULT_RECEIVE_MAXIMUM = 65_535;
const CLOSE_TIMEOUT_MS = 2000;

/** Credentials from the URL (percent-decoded), overridden by the username/password keys. */
function clientOptions(settings: ConnectionSettings): IClientOptions {
  const url = new URL(settings.url);
  const decode = (text: string): string => percentDecoded(text) ?? text;
  const username = settings.username ?? (url.username === '' ? undefined : decode(url.username));
  const password = settings.password ?? (url.password === '' ? undefined : decode(url.password));
  const secure = url.protocol === 'mqtts:';
  return {
    ...(secure && settings.tls !== null ? settings.tls : {}),
    protocol: secure ? 'mqtts' : 'mqtt',
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: url.port === '' ? (secure ? 8883 : 1883) : Number(url.port),
    protocolVersion: 5,
    clientId: settings.clientId,
    ...(username === undefined ? {} : { username }),
    ...(password === undefined ? {} : { password }),
    clean: true,
    keepalive: settings.keepaliveS,
    connectTimeout: settings.connectTimeoutMs,
    // The delivery runner reconnects, with backoff, through connect(); a reconnect inside MQTT.js would hide the loss.
    reconnectPeriod: 0,
    resubscribe: false,
    queueQoSZero: false,
  };
}

/**
 * MQTT.js takes a few hundred milliseconds to load: started as soon as this
 * module is (only a process with an mqtt sink loads it), it compiles while
 * the outbox is read rather than after.
 */
// Its `default` is MQTT.js's module.exports both under Node's own import of the CommonJS
// package and in the bundle (scripts/bundle.mjs), whose chunk exports only a default.
const library = import('mqtt').then((mqtt) => mqtt.default);
library.catch(() => undefined);

export const connectMqtt: MqttConnector = async (settings, signal) => {
  signal.throwIfAborted();
  const { connect } = await library;
  signal.throwIfAborted(); // its 'abort' event may have fired while the library loaded
  const client = connect(clientOptions(settings));
  return new Promise<MqttConnection>((resolve, reject) => {
    const settle = (outcome: { connack: Connack } | { error: RetriableError }): void => {
      client.off('connect', onConnect);
      client.off('error', onError);
      client.off('close', onClose);
      signal.removeEventListener('abort', onAbort);
      if ('connack' in outcome) {
        resolve(new Connection(client, outcome.connack, settings));
        return;
      }
      client.on('error', () => undefined);
      client.end(true);
      reject(outcome.error);
    };
    const onConnect = (connack: Connack): void => settle({ connack });
    const onError = (err: Error & { code?: unknown }): void => {
      const code = typeof err.code === 'number' ? err.code : undefined;
      const error = code === undefined ? cannotConnect(settings.where, errorMessage(err)) : fromConnackReasonCode(code, settings.where);
      settle({ error });
    };
    const onClose = (): void => settle({ error: cannotConnect(settings.where, 'closed before the broker answered CONNECT') });
    const onAbort = (): void => settle({ error: cannotConnect(settings.where, 'aborted') });
    client.on('connect', onConnect);
    client.on('error', onError);
    client.on('close', onClose);
    signal.addEventListener('abort', onAbort, { once: true });
  });
};

/** One message of a publish() call, until it is settled. */
interface Job {
  readonly message: MqttMessage;
  readonly settle: (outcome: PublishOutcome) => void;
  /** performance.now() when handed to MQTT.js. */
  sentAt: number;
}

/** How often unacknowledged publishes are checked against `publishTimeoutMs`, as a fraction of it. */
const DEADLINE_CHECKS = 4;

class Connection implements MqttConnection {
  readonly limits: BrokerLimits;
  readonly lost: Promise<string>;
  private markLost!: (reason: string) => void;
  private gone: string | undefined;
  /** Publish slots left under the broker's Receive Maximum. */
  private free: number;
  /** Messages waiting for a slot, in call order. */
  private readonly waiting: Job[] = [];
  /** Unacknowledged publishes, oldest first (a Set keeps insertion order). */
  private readonly pending = new Set<Job>();
  private readonly deadlineTimer: NodeJS.Timeout;
  private refillQueued = false;

  constructor(
    private readonly client: MqttClient,
    connack: Connack,
    private readonly settings: ConnectionSettings,
  ) {
    this.limits = {
      receiveMaximum: connack.properties?.receiveMaximum ?? DEFAULT_RECEIVE_MAXIMUM,
      maximumPacketSize: connack.properties?.maximumPacketSize,
    };
    this.free = this.limits.receiveMaximum;
    this.lost = new Promise((resolve) => (this.markLost = resolve));
    this.deadlineTimer = setInterval(() => this.checkDeadline(), Math.max(10, settings.publishTimeoutMs / DEADLINE_CHECKS)).unref();
    client.on('error', (err: Error) => this.drop(errorMessage(err)));
    client.on('disconnect', (packet: Disconnect) => this.drop(`broker sent DISCONNECT: ${reasonName(packet.reasonCode ?? 0)}`));
    client.on('close', () => this.drop('connection closed'));
  }

  /** Pipelined in batch order within the broker's Receive Maximum, a row's messages one after another. */
  publish(messages: readonly MqttMessage[]): Promise<PublishOutcome[]> {
    return publishInRowOrder(
      messages,
      (message) => message.orderKey,
      (message) => this.publishOne(message),
      {
        mayFollow: (earlier) => earlier === undefined || earlier instanceof PermanentError,
        heldBack: (message) =>
          new RetriableError(
            `${this.settings.where}: not sent: an earlier event of its row was not acknowledged (topic ${JSON.stringify(message.topic)})`,
            {
              code: MQTT_RETRIABLE,
            },
          ),
      },
    );
  }

  private publishOne(message: MqttMessage): Promise<PublishOutcome> {
    if (this.gone !== undefined) return Promise.resolve(connectionLost(this.settings.where, this.gone));
    return new Promise((settle) => {
      const job: Job = { message, settle, sentAt: 0 };
      if (this.free > 0 && this.waiting.length === 0) {
        this.free--;
        this.send(job);
      } else {
        this.waiting.push(job);
      }
    });
  }

  async close(): Promise<void> {
    if (this.gone !== undefined) return;
    const ended = new Promise<void>((resolve) => this.client.end(false, {}, () => resolve()));
    const timer = new Promise<'timeout'>((resolve) => setTimeout(resolve, CLOSE_TIMEOUT_MS, 'timeout').unref());
    // A broker that vanished without a FIN never takes the DISCONNECT.
    if ((await Promise.race([ended, timer])) === 'timeout') this.client.end(true);
    this.drop('closed by pgbridge');
  }

  private send(job: Job): void {
    job.sentAt = performance.now();
    this.pending.add(job);
    const { topic, payload, properties } = job.message;
    // MQTT.js stores its own copy of the packet; the properties are only read.
    const options = {
      qos: this.settings.qos,
      retain: false,
      properties: properties as PublishProperties & { userProperties: Record<string, string> },
    };
    this.client.publish(topic, payload, options, (err?: Error & { code?: unknown }) => {
      if (!this.pending.delete(job)) return; // already failed with the connection
      this.release();
      if (err === undefined || err === null) job.settle(undefined);
      else if (typeof err.code === 'number') job.settle(fromPublishReasonCode(err.code, topic));
      else job.settle(connectionLost(this.settings.where, errorMessage(err)));
    });
  }

  /**
   * A slot freed by an acknowledgement is refilled in a microtask, not in its
   * callback: MQTT.js handles each received packet in a tick of its own and
   * flushes each publish in the next tick, so refilling from the callback
   * made one writev per PUBLISH; this way the acknowledgements of one read
   * are refilled together and go out in one write (as a promise-awaiting client's do).
   */
  private release(): void {
    this.free++;
    if (this.refillQueued || this.waiting.length === 0) return;
    this.refillQueued = true;
    queueMicrotask(() => {
      this.refillQueued = false;
      while (this.free > 0 && this.gone === undefined) {
        const next = this.waiting.shift();
        if (next === undefined) return;
        this.free--;
        this.send(next);
      }
    });
  }

  private checkDeadline(): void {
    const oldest = this.pending.values().next();
    if (oldest.done === true) return;
    if (performance.now() - oldest.value.sentAt > this.settings.publishTimeoutMs) {
      this.drop(`no ${this.settings.qos === 1 ? 'PUBACK' : 'PUBCOMP'} within ${this.settings.publishTimeoutMs} ms`);
    }
  }

  /** Fails everything unacknowledged: MQTT.js keeps QoS 1/2 callbacks for a reconnect that never comes. */
  private drop(reason: string): void {
    if (this.gone !== undefined) return;
    this.gone = reason;
    clearInterval(this.deadlineTimer);
    const error = connectionLost(this.settings.where, reason);
    const unsettled = [...this.pending, ...this.waiting.splice(0)];
    this.pending.clear();
    for (const job of unsettled) job.settle(error);
    this.client.end(true);
    this.markLost(reason);
  }
}
