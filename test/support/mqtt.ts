/**
 * MQTT far ends for tests: a Mosquitto of the test's own (its config,
 * password file and ACL in a temp dir, on a free port, started and stopped by
 * the test; the system one on :1883 is never touched) and a subscriber that
 * records what the broker delivered to it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { waitFor } from './bridge.js';
import { freePort } from './tcp.js';

export interface BrokerUser {
  readonly name: string;
  readonly password: string;
  /** ACL lines for this user, e.g. "topic readwrite #" or "topic deny pgbridge/public/x/#" (deny lines first). */
  readonly acl: readonly string[];
}

export interface BrokerOptions {
  /** Who may connect, with what ACL; none: anyone, anonymously, anywhere. */
  readonly users: readonly BrokerUser[];
  /** Broker's Maximum Packet Size (announced in CONNACK); unset: none. */
  readonly maxPacketSize?: number;
  /** Keep sessions and queued messages across a restart (saved on SIGTERM). */
  readonly persistence?: boolean;
}

/** A Mosquitto process of the test's own. */
export class MosquittoBroker {
  readonly dir = mkdtempSync(path.join(tmpdir(), 'pgbridge-mosquitto-'));
  private process: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  port = 0;
  readonly log: string[] = [];

  constructor(private readonly options: BrokerOptions) {}

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  /** A URL with `user`'s credentials in it, percent-encoded. */
  urlFor(user: BrokerUser, port = this.port): string {
    return `mqtt://${encodeURIComponent(user.name)}:${encodeURIComponent(user.password)}@127.0.0.1:${port}`;
  }

  async start(): Promise<void> {
    if (this.port === 0) {
      this.port = await freePort();
      this.writeFiles();
    }
    const child = spawn('mosquitto', ['-c', path.join(this.dir, 'mosquitto.conf')], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.process = child;
    let failed: Error | undefined;
    child.once('error', (err) => (failed = err)); // e.g. no mosquitto binary: reported below, not an unhandled 'error'
    this.exited = new Promise((resolve) => {
      child.once('exit', () => resolve());
      child.once('error', () => resolve());
    });
    for (const stream of [child.stdout, child.stderr])
      stream.on('data', (d: Buffer) => this.log.push(...d.toString('utf8').split('\n').filter(Boolean)));
    await waitFor(
      () => {
        if (failed !== undefined) throw new Error(`cannot start mosquitto: ${failed.message}`);
        return accepts(this.port);
      },
      15_000,
      `mosquitto on port ${this.port} (log: ${this.log.slice(-3).join(' | ')})`,
    );
  }

  /** SIGTERM (Mosquitto saves its persistence file on the way out) and wait for the exit. */
  async stop(): Promise<void> {
    const child = this.process;
    this.process = undefined;
    if (child === undefined || child.exitCode !== null) return;
    child.kill('SIGTERM');
    await this.exited;
  }

  async restart(downMs = 0): Promise<void> {
    await this.stop();
    if (downMs > 0) await new Promise((resolve) => setTimeout(resolve, downMs));
    await this.start();
  }

  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  private writeFiles(): void {
    const passwords = path.join(this.dir, 'passwd');
    writeFileSync(passwords, '');
    for (const user of this.options.users) execFileSync('mosquitto_passwd', ['-b', passwords, user.name, user.password]);
    const acl = path.join(this.dir, 'acl');
    writeFileSync(acl, this.options.users.map((u) => [`user ${u.name}`, ...u.acl, ''].join('\n')).join('\n'));
    const access =
      this.options.users.length === 0 ? ['allow_anonymous true'] : ['allow_anonymous false', `password_file ${passwords}`, `acl_file ${acl}`];
    const lines = [
      `listener ${this.port} 127.0.0.1`,
      ...access,
      // Run as root, Mosquitto would switch to user "mosquitto", who cannot read this temp dir.
      ...(process.getuid?.() === 0 ? ['user root'] : []),
      // A subscriber that falls behind must not lose queued messages: the tests count them. Not 0
      // ("no limit"): with 0, Mosquitto 2.0.11 drops the connection after refusing a PUBLISH by ACL.
      'max_queued_messages 1000000',
      `persistence ${this.options.persistence ? 'true' : 'false'}`,
      ...(this.options.persistence ? [`persistence_location ${this.dir}/`, 'autosave_interval 0'] : []),
      ...(this.options.maxPacketSize === undefined ? [] : [`max_packet_size ${this.options.maxPacketSize}`]),
      'log_dest stderr',
      'log_type error',
      'log_type warning',
    ];
    writeFileSync(path.join(this.dir, 'mosquitto.conf'), lines.join('\n') + '\n');
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tcpConnect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** One message as the subscriber got it. */
export interface Received {
  readonly topic: string;
  readonly body: string;
  readonly contentType: string | undefined;
  readonly userProperties: Readonly<Record<string, string>>;
  readonly qos: number;
}

export interface SubscriberOptions {
  readonly url: string;
  readonly username?: string;
  readonly password?: string;
  /** Topic filters, subscribed at `qos`. */
  readonly filters: readonly string[];
  readonly qos?: 1 | 2;
  /**
   * A persistent session (clean start off, session kept an hour): what is
   * published while this subscriber is cut off waits for it at the broker,
   * and it reconnects by itself.
   */
  readonly persistent?: boolean;
}

const BARRIER_PREFIX = 'pgbridge-test/barrier';

/**
 * An MQTT 5 subscriber. `settled()` is a read barrier: it publishes a marker
 * to a topic of its own and waits until the broker hands it back, which
 * happens only after every message the broker queued for it before.
 */
export class MqttSubscriber {
  readonly received: Received[] = [];
  private client: MqttClient | undefined;
  private readonly barrierTopic = `${BARRIER_PREFIX}/${randomBytes(6).toString('hex')}`;
  private readonly markers = new Set<string>();
  readonly clientId = `pgbridge-test-${randomBytes(6).toString('hex')}`;

  constructor(private readonly options: SubscriberOptions) {}

  async start(): Promise<void> {
    const { url, username, password, persistent } = this.options;
    const qos = this.options.qos ?? 2;
    const options: IClientOptions = {
      protocolVersion: 5,
      clientId: this.clientId,
      clean: !persistent,
      reconnectPeriod: persistent ? 200 : 0,
      connectTimeout: 5000,
      ...(persistent ? { properties: { sessionExpiryInterval: 3600 } } : {}),
      ...(username === undefined ? {} : { username, password }),
    };
    const client = await mqtt.connectAsync(url, options);
    this.client = client;
    client.on('error', () => undefined);
    client.on('message', (topic, payload, packet) => {
      const body = payload.toString('utf8');
      if (topic === this.barrierTopic) {
        this.markers.add(body);
        return;
      }
      const userProperties: Record<string, string> = {};
      for (const [name, value] of Object.entries(packet.properties?.userProperties ?? {}))
        userProperties[name] = Array.isArray(value) ? value.join(',') : value;
      this.received.push({ topic, body, contentType: packet.properties?.contentType, userProperties, qos: packet.qos });
    });
    await client.subscribeAsync(
      [...this.options.filters, this.barrierTopic].map((topic) => ({ topic, qos })).reduce((m, s) => ({ ...m, [s.topic]: { qos: s.qos } }), {}),
    );
  }

  /** Waits until everything the broker queued for this subscriber before now has arrived. */
  async settled(timeoutMs = 30_000): Promise<Received[]> {
    const client = this.client;
    if (client === undefined) throw new Error('subscriber not started');
    const marker = randomBytes(6).toString('hex');
    await client.publishAsync(this.barrierTopic, marker, { qos: this.options.qos ?? 2 });
    await waitFor(() => this.markers.has(marker), timeoutMs, `the read barrier on ${this.barrierTopic}`);
    return [...this.received];
  }

  /** Ends the connection; with `forget`, the broker's session for it too. */
  async stop(forget = true): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (client === undefined) return;
    await client.endAsync(false, forget ? { properties: { sessionExpiryInterval: 0 } } : {}).catch(() => client.end(true));
  }
}

/** ACL lines letting a test subscriber read everything and use its read barrier. */
export const SUBSCRIBER_ACL = ['topic read #', `topic readwrite ${BARRIER_PREFIX}/#`];
