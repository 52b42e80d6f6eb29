/**
 * The local Redis the tests talk to (127.0.0.1:6379, as CI starts it), read
 * back as a consumer would: XRANGE over a stream. Also a private redis-server
 * on a free port for the faults the shared one must not be put through
 * (requirepass, maxmemory, TLS).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createClient, type RedisClientType } from '@redis/client';
import { waitFor } from './bridge.js';
import { freePort } from './tcp.js';

export const REDIS_URL = process.env.PGBRIDGE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** The command that starts the shared server (the same as scripts/test-setup.sh). */
export const REDIS_START = [
  'redis-server',
  '--daemonize',
  'yes',
  '--bind',
  '127.0.0.1',
  '-::1',
  '--port',
  '6379',
  '--save',
  '',
  '--appendonly',
  'no',
  '--dir',
  '/var/lib/redis',
  '--logfile',
  '/var/log/redis/ci.log',
];

export interface StreamEntryRead {
  /** The entry id Redis gave it (ms-seq). */
  readonly entryId: string;
  readonly fields: Readonly<Record<string, string>>;
}

/** A plain client for reading and preparing keys; closed by the caller. */
export async function redisAdmin(url = REDIS_URL, ca?: string): Promise<RedisClientType> {
  const socket = ca === undefined ? { reconnectStrategy: false as const } : { reconnectStrategy: false as const, tls: true as const, ca };
  const client = createClient({ url, socket }) as RedisClientType;
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

/** Every entry of `stream`, oldest first (XRANGE - +); none when the key does not exist. */
export async function readStream(client: RedisClientType, stream: string): Promise<StreamEntryRead[]> {
  const entries = await client.xRange(stream, '-', '+');
  return (entries ?? []).map((e) => ({ entryId: e.id, fields: { ...(e.message as Record<string, string>) } }));
}

/** A redis-server of the test's own on a free loopback port, with `args` on top; stopped by stop(). */
export class PrivateRedis {
  private child: ChildProcess | undefined;

  private constructor(
    readonly port: number,
    private readonly args: readonly string[],
  ) {}

  /** With `tls` (PEM files), the port speaks TLS only (rediss://). */
  static async start(args: readonly string[] = [], tls?: { cert: string; key: string; ca: string }): Promise<PrivateRedis> {
    const port = await freePort();
    const listen = tls
      ? [
          '--port',
          '0',
          '--tls-port',
          String(port),
          '--tls-cert-file',
          tls.cert,
          '--tls-key-file',
          tls.key,
          '--tls-ca-cert-file',
          tls.ca,
          '--tls-auth-clients',
          'no',
        ]
      : ['--port', String(port)];
    const server = new PrivateRedis(port, [...listen, ...args]);
    server.secure = tls !== undefined;
    await server.spawn();
    return server;
  }

  private secure = false;

  get url(): string {
    return `${this.secure ? 'rediss' : 'redis'}://127.0.0.1:${this.port}`;
  }

  private async spawn(): Promise<void> {
    const child = spawn('redis-server', ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...this.args], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    this.child = child;
    let out = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    await waitFor(() => out.includes('Ready to accept connections') || child.exitCode !== null, 15_000, `redis-server on port ${this.port}`);
    if (child.exitCode !== null) throw new Error(`redis-server on port ${this.port} exited: ${out.slice(-500)}`);
  }

  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
}
