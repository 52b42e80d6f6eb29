/**
 * The only file that knows MQTT.js. One connection per connect(), never
 * reconnected by MQTT.js itself (the delivery runner owns that), and every
 * failure translated here into RetriableError / PermanentError.
 */
import type { IClientOptions, MqttClient } from 'mqtt';
import { errorMessage, type PermanentError, type RetriableError } from '../../errors.js';
import type { ConfirmedQos } from './config.js';
import { cannotConnect, connectionLost, fromConnackReasonCode, fromPublishReasonCode, reasonName } from './errors.js';
import type { MqttMessage } from './message.js';

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

/** Rejections are pgbridge errors, never MQTT.js ones. */
export interface MqttConnection {
  readonly limits: BrokerLimits;
  /** Resolves with the reason once the connection is gone, whoever ended it. */
  readonly lost: Promise<string>;
  /**
   * Resolves once the broker acknowledged the message: PUBACK (QoS 1) or
   * PUBCOMP (QoS 2). Rejects with PermanentError when the broker refused it
   * for good, RetriableError otherwise. Messages go out in call order.
   */
  publish(message: MqttMessage): Promise<void>;
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
  const decode = (text: string): string => {
    try {
      return decodeURIComponent(text);
    } catch {
      return text;
    }
  };
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

export const connectMqtt: MqttConnector = async (settings, signal) => {
  signal.throwIfAborted();
  // Loaded here, not at startup: a process without an mqtt sink never pays for MQTT.js.
  const { connect } = await import('mqtt');
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

interface Pending {
  readonly reject: (err: RetriableError) => void;
  /** performance.now() when handed to MQTT.js. */
  readonly sentAt: number;
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
  private readonly waiting: Array<{ readonly send: () => void; readonly reject: (err: RetriableError) => void }> = [];
  /** Unacknowledged publishes, oldest first (a Set keeps insertion order). */
  private readonly pending = new Set<Pending>();
  private readonly deadlineTimer: NodeJS.Timeout;
  private corked = false;

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

  publish(message: MqttMessage): Promise<void> {
    if (this.gone !== undefined) return Promise.reject(connectionLost(this.settings.where, this.gone));
    return new Promise<void>((resolve, reject) => {
      const send = (): void => this.send(message, resolve, reject);
      if (this.free > 0 && this.waiting.length === 0) {
        this.free--;
        send();
      } else {
        this.waiting.push({ send, reject });
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

  private send(message: MqttMessage, resolve: () => void, reject: (err: PermanentError | RetriableError) => void): void {
    const entry: Pending = { reject, sentAt: performance.now() };
    this.pending.add(entry);
    this.cork();
    const properties = { ...message.properties, userProperties: { ...message.properties.userProperties } };
    this.client.publish(message.topic, message.payload, { qos: this.settings.qos, retain: false, properties }, (err?: Error & { code?: unknown }) => {
      if (!this.pending.delete(entry)) return; // already failed with the connection
      this.release();
      if (err === undefined || err === null) resolve();
      else if (typeof err.code === 'number') reject(fromPublishReasonCode(err.code, message.topic));
      else reject(connectionLost(this.settings.where, errorMessage(err)));
    });
  }

  /**
   * MQTT.js handles each incoming acknowledgement in a tick of its own, and
   * each publish that frees up would be a write system call of its own: held
   * until the ticks of this turn are done, they leave in one.
   */
  private cork(): void {
    if (this.corked) return;
    this.corked = true;
    const stream = this.client.stream;
    stream.cork();
    setImmediate(() => {
      this.corked = false;
      stream.uncork();
    });
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next === undefined) this.free++;
    else next.send();
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
    for (const entry of this.pending) entry.reject(error);
    this.pending.clear();
    for (const waiter of this.waiting.splice(0)) waiter.reject(error);
    this.client.end(true);
    this.markLost(reason);
  }
}
