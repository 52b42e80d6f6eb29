/**
 * The only file that knows the NATS client (@nats-io/transport-node and
 * @nats-io/jetstream); errors.ts translates what it throws.
 */
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { jetstream, jetstreamManager, StorageType, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { connect, credsAuthenticator, headers as natsHeaders, nanos, type NatsConnection, type NodeConnectionOptions } from '@nats-io/transport-node';
import { errorMessage, PermanentError, RetriableError } from '../../errors.js';
import type { NatsTlsConfig } from './config.js';
import { fromNatsError, NATS_REJECTED, NATS_RETRIABLE, NATS_UNAVAILABLE } from './errors.js';
import type { NatsMessage } from './message.js';
import { publishInRowOrder } from '../row-order.js';

export interface StreamSettings {
  readonly name: string;
  /** Create it when missing, over `subjects`. */
  readonly declare: boolean;
  readonly subjects: readonly string[];
  readonly duplicateWindowMs: number;
}

export interface ClientSettings {
  /** host:port each. */
  readonly servers: readonly string[];
  /** Connection name the server shows (monitoring, logs). */
  readonly name: string;
  readonly user?: string;
  readonly password?: string;
  readonly token?: string;
  readonly credsFile?: string;
  /** null: plain TCP unless the server requires TLS. */
  readonly tls: true | NatsTlsConfig | null;
  readonly connectTimeoutMs: number;
  readonly pingIntervalMs: number;
  readonly pubAckTimeoutMs: number;
  /** null: publish to whatever stream takes the subject. */
  readonly stream: StreamSettings | null;
}

export type PublishOutcome =
  { readonly ok: true; readonly duplicate: boolean } | { readonly ok: false; readonly error: RetriableError | PermanentError };

/** Rejections are pgbridge errors (RetriableError / PermanentError), never the client's. */
export interface NatsPublisher {
  /** Connects, and makes sure the stream is there; `onLost` is called once when the connection ends afterwards. */
  connect(onLost: (reason: string) => void): Promise<void>;
  /**
   * Publishes in order, pipelined; resolves with one outcome per message once each has its PubAck or
   * failed, each outcome passed through `judge` (which may find a failure permanent) before the row's
   * next message goes or is held back.
   */
  publish(messages: readonly NatsMessage[], judge?: Judge): Promise<PublishOutcome[]>;
  /** The subject filters the `stream` listens on, looked up now; undefined when unknown (no `stream`, not connected, the look-up failed). */
  streamSubjects(): Promise<readonly string[] | undefined>;
  close(): Promise<void>;
}

/** A second look at a message's outcome, with what the sink knows (a stream's subjects). */
export type Judge = (message: NatsMessage, outcome: PublishOutcome) => Promise<PublishOutcome>;

export type NatsPublisherFactory = (settings: ClientSettings) => NatsPublisher;

const CLOSE_TIMEOUT_MS = 5000;

export const createNatsPublisher: NatsPublisherFactory = (settings) => new JetStreamPublisher(settings);

class JetStreamPublisher implements NatsPublisher {
  private connection: NatsConnection | undefined;
  private js: JetStreamClient | undefined;
  private jsm: JetStreamManager | undefined;
  private closedByUs = false;

  constructor(private readonly settings: ClientSettings) {}

  async connect(onLost: (reason: string) => void): Promise<void> {
    let connection: NatsConnection;
    try {
      connection = await connect(this.connectionOptions());
    } catch (err) {
      throw asUnavailable(err);
    }
    this.connection = connection;
    void connection.closed().then((err) => {
      if (!this.closedByUs) onLost(err instanceof Error ? fromNatsError(err).message : 'connection closed');
    });
    try {
      this.jsm = await this.ensureStream(connection);
    } catch (err) {
      await this.close();
      throw asUnavailable(err);
    }
    this.js = jetstream(connection, { timeout: this.settings.pubAckTimeoutMs });
  }

  /** Each publish is written to the socket when called: pipelined in batch order, a row's messages one after another. */
  publish(messages: readonly NatsMessage[], judge: Judge = async (_message, outcome) => outcome): Promise<PublishOutcome[]> {
    const js = this.js;
    if (js === undefined) return Promise.reject(new RetriableError('nats: publish before connect()', { code: NATS_UNAVAILABLE }));
    return publishInRowOrder(
      messages,
      (message) => message.orderKey,
      async (message) => judge(message, await this.publishOne(js, message)),
      {
        mayFollow: (earlier) => earlier.ok || earlier.error instanceof PermanentError,
        heldBack,
      },
    );
  }

  async streamSubjects(): Promise<readonly string[] | undefined> {
    const { jsm } = this;
    const stream = this.settings.stream;
    if (jsm === undefined || stream === null) return undefined;
    try {
      // A stream without subjects of its own (a mirror) takes no publish at all.
      return (await jsm.streams.info(stream.name)).config.subjects ?? [];
    } catch {
      return undefined;
    }
  }

  async close(): Promise<void> {
    const connection = this.connection;
    this.connection = undefined;
    this.js = undefined;
    this.jsm = undefined;
    if (connection === undefined || connection.isClosed()) return;
    this.closedByUs = true;
    // A black-holed server never answers; the socket is given up after a while.
    await Promise.race([connection.close().catch(() => undefined), sleep(CLOSE_TIMEOUT_MS, undefined, { ref: false })]);
  }

  private async publishOne(js: JetStreamClient, message: NatsMessage): Promise<PublishOutcome> {
    const headers = natsHeaders();
    try {
      for (const [name, value] of Object.entries(message.headers)) headers.set(name, value);
    } catch (err) {
      // A header the client refuses (it throws at once, out of the batch) fails this message alone, for good.
      return {
        ok: false,
        error: new PermanentError(`nats: ${errorMessage(err)} (subject ${JSON.stringify(message.subject)})`, { cause: err, code: NATS_REJECTED }),
      };
    }
    const stream = this.settings.stream;
    try {
      const ack = await js.publish(message.subject, message.data, {
        msgID: message.msgId,
        headers,
        timeout: this.settings.pubAckTimeoutMs,
        ...(stream === null ? {} : { expect: { streamName: stream.name } }),
      });
      return { ok: true, duplicate: ack.duplicate };
    } catch (err) {
      return { ok: false, error: this.publishError(err, message) };
    }
  }

  /** The client's max_payload refusal does not say the sizes; the operator needs them. */
  private publishError(err: unknown, message: NatsMessage): RetriableError | PermanentError {
    const maxPayload = this.connection?.info?.max_payload;
    if (err instanceof Error && /max_payload/.test(err.message) && maxPayload !== undefined) {
      const headerLines = Object.entries({ ...message.headers, 'Nats-Msg-Id': message.msgId }).map(([name, value]) => `${name}: ${value}\r\n`);
      const bytes = Buffer.byteLength(message.data) + Buffer.byteLength(`NATS/1.0\r\n${headerLines.join('')}\r\n`);
      return new PermanentError(
        `nats: message of about ${bytes} bytes (headers included) for subject ${JSON.stringify(message.subject)} exceeds the server's max_payload of ${maxPayload} bytes`,
        { cause: err, code: NATS_REJECTED },
      );
    }
    return fromNatsError(err, message.subject);
  }

  /** The JetStream manager, once `stream` (when set) is there. */
  private async ensureStream(connection: NatsConnection): Promise<JetStreamManager> {
    const jsm = await jetstreamManager(connection, { timeout: this.settings.pubAckTimeoutMs });
    const stream = this.settings.stream;
    if (stream === null) return jsm;
    try {
      await jsm.streams.info(stream.name);
      return jsm;
    } catch (err) {
      if (!(err instanceof Error) || err.name !== 'StreamNotFoundError') throw err;
      if (!stream.declare)
        throw new RetriableError(`nats: stream ${JSON.stringify(stream.name)} does not exist (declare is false)`, { code: NATS_UNAVAILABLE });
    }
    try {
      await jsm.streams.add({
        name: stream.name,
        subjects: [...stream.subjects],
        storage: StorageType.File,
        duplicate_window: nanos(stream.duplicateWindowMs),
      });
      return jsm;
    } catch (err) {
      throw new RetriableError(
        `nats: cannot create stream ${JSON.stringify(stream.name)} over ${stream.subjects.join(', ')}: ${fromNatsError(err).message.replace(/^nats: /, '')}`,
        {
          cause: err,
          code: NATS_UNAVAILABLE,
        },
      );
    }
  }

  private connectionOptions(): NodeConnectionOptions {
    const { settings } = this;
    return {
      servers: [...settings.servers],
      name: settings.name,
      // The delivery runner reconnects (with backoff) when the sink says it is not ready.
      reconnect: false,
      timeout: settings.connectTimeoutMs,
      pingInterval: settings.pingIntervalMs,
      maxPingOut: 2,
      noEcho: true,
      // Otherwise every request builds two Error objects for their stack traces: a third of the CPU of a drain.
      noAsyncTraces: true,
      ...(settings.user === undefined ? {} : { user: settings.user, pass: settings.password }),
      ...(settings.token === undefined ? {} : { token: settings.token }),
      ...(settings.credsFile === undefined ? {} : { authenticator: credsAuthenticator(readFileSync(settings.credsFile)) }),
      tls: tlsOptions(settings.tls),
    };
  }
}

function tlsOptions(tls: ClientSettings['tls']): NodeConnectionOptions['tls'] {
  if (tls === null) return null;
  if (tls === true) return {};
  return {
    ...(tls.ca_file === undefined ? {} : { caFile: tls.ca_file }),
    ...(tls.cert_file === undefined ? {} : { certFile: tls.cert_file }),
    ...(tls.key_file === undefined ? {} : { keyFile: tls.key_file }),
    ...(tls.reject_unauthorized === undefined ? {} : { rejectUnauthorized: tls.reject_unauthorized }),
    ...(tls.handshake_first === undefined ? {} : { handshakeFirst: tls.handshake_first }),
  };
}

/** Any failure to connect (or to find the stream) leaves the sink not ready: retried, never dead-lettered. */
function asUnavailable(err: unknown): RetriableError {
  if (err instanceof RetriableError && err.code === NATS_UNAVAILABLE) return err;
  const translated = fromNatsError(err);
  return new RetriableError(translated.message, { cause: err, code: NATS_UNAVAILABLE });
}

/** Not sent: an earlier event of its row was not acknowledged, and may be stored only when the batch is sent again. */
function heldBack(message: NatsMessage): PublishOutcome {
  return {
    ok: false,
    error: new RetriableError(`nats: not sent: an earlier event of its row was not acknowledged (subject ${JSON.stringify(message.subject)})`, {
      code: NATS_RETRIABLE,
    }),
  };
}
