/**
 * The far end of the NATS tests: a JetStream consumer that reads what a
 * stream holds, stream set-up and removal, and private nats-server processes
 * (auth, TLS, permissions) on ports of their own, so the shared server on
 * :4222 is never reconfigured.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection, type NodeConnectionOptions } from '@nats-io/transport-node';
import { waitFor } from './bridge.js';
import { freePort } from './tcp.js';

export const NATS_URL = process.env.PGBRIDGE_TEST_NATS_URL ?? 'nats://127.0.0.1:4222';
/** host:port of the shared server, as the client takes it. */
export const NATS_ADDRESS = new URL(NATS_URL).host;

/** One message as a JetStream consumer receives it. */
export interface StoredMessage {
  readonly seq: number;
  readonly subject: string;
  readonly data: string;
  readonly headers: Readonly<Record<string, string>>;
}

export class NatsAdmin {
  private constructor(
    readonly connection: NatsConnection,
    readonly jsm: JetStreamManager,
  ) {}

  static async connect(options: NodeConnectionOptions = { servers: NATS_ADDRESS }): Promise<NatsAdmin> {
    const connection = await connect({ ...options, name: 'pgbridge tests' });
    return new NatsAdmin(connection, await jetstreamManager(connection));
  }

  async createStream(name: string, subjects: readonly string[], extra: Record<string, unknown> = {}): Promise<void> {
    await this.jsm.streams.add({ name, subjects: [...subjects], ...extra });
  }

  async deleteStream(name: string): Promise<void> {
    await this.jsm.streams.delete(name).catch(() => false);
  }

  async streamExists(name: string): Promise<boolean> {
    return this.jsm.streams.info(name).then(
      () => true,
      () => false,
    );
  }

  /**
   * Everything `stream` holds now (from sequence `fromSeq` on), in stream
   * order, read by a fresh ephemeral pull consumer: what any consumer would get.
   */
  async read(stream: string, filterSubject?: string, fromSeq = 1): Promise<StoredMessage[]> {
    const info = await this.jsm.consumers.add(stream, {
      ack_policy: AckPolicy.None,
      ...(fromSeq <= 1 ? { deliver_policy: DeliverPolicy.All } : { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: fromSeq }),
      inactive_threshold: 30_000_000_000,
      ...(filterSubject === undefined ? {} : { filter_subject: filterSubject }),
    });
    try {
      const consumer = await jetstream(this.connection).consumers.get(stream, info.name);
      const out: StoredMessage[] = [];
      for (let pending = info.num_pending; out.length < pending;) {
        const batch = await consumer.fetch({ max_messages: Math.min(1000, pending - out.length), expires: 5000 });
        let got = 0;
        for await (const message of batch) {
          got++;
          const headers: Record<string, string> = {};
          for (const name of message.headers?.keys() ?? []) headers[name] = message.headers!.get(name);
          out.push({ seq: message.seq, subject: message.subject, data: message.string(), headers });
        }
        if (got === 0) throw new Error(`stream ${stream}: ${pending - out.length} of ${pending} messages could not be fetched`);
      }
      return out;
    } finally {
      await this.jsm.consumers.delete(stream, info.name).catch(() => false);
    }
  }

  async close(): Promise<void> {
    await this.connection.close();
  }
}

/** A nats-server of a test's own: its config text, a free port, JetStream in a temp dir. */
export class PrivateNatsServer {
  private child: ChildProcess | undefined;
  readonly dir = mkdtempSync(path.join(tmpdir(), 'pgbridge-nats-'));
  log = '';

  private constructor(
    readonly port: number,
    private readonly config: string,
    private readonly jetstream: boolean,
  ) {}

  /** `config` is nats-server configuration without listen/jetstream (both added here; JetStream unless `jetstream` is false). */
  static async start(config: string, { jetstream = true } = {}): Promise<PrivateNatsServer> {
    const server = new PrivateNatsServer(await freePort(), config, jetstream);
    await server.run();
    return server;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** A file in the server's directory (certificates, creds). */
  file(name: string, content: string | Uint8Array): string {
    const file = path.join(this.dir, name);
    writeFileSync(file, content, { mode: 0o600 });
    return file;
  }

  private async run(): Promise<void> {
    const conf = this.file(
      'server.conf',
      `listen: 127.0.0.1:${this.port}\n${this.jetstream ? `jetstream { store_dir: "${path.join(this.dir, 'js')}" }\n` : ''}${this.config}\n`,
    );
    const child = spawn('nats-server', ['-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    child.stdout.on('data', (d) => (this.log += String(d)));
    child.stderr.on('data', (d) => (this.log += String(d)));
    await waitFor(() => /Server is ready/.test(this.log) || child.exitCode !== null, 15_000, `nats-server on ${this.port}`);
    if (child.exitCode !== null) throw new Error(`nats-server exited ${child.exitCode}: ${this.log}`);
  }

  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (child && child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
