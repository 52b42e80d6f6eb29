/**
 * The far end of the NATS fault tests: a stream of the test's own on the
 * shared server, read by JetStream consumers (incrementally while rows
 * stream, then once more from the first message for the tally), and a
 * restart of the shared nats-server itself.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { waitFor } from '../support/bridge.js';
import { NATS_ADDRESS, NatsAdmin } from '../support/nats.js';
import { arrivalOf } from './harness.js';
import type { Arrival } from './tally.js';

export class NatsFarEnd {
  readonly stream = `faults_${randomBytes(4).toString('hex')}`;
  /** Row events go to <stream>.public.items.insert. */
  readonly subject = `${this.stream}.{schema}.{table}.{op}`;
  private admin: NatsAdmin | undefined;
  private readonly seen: Arrival[] = [];
  private nextSeq = 1;

  async start(): Promise<void> {
    // Reconnects on its own across a server restart (the client's default), unlike the sink.
    this.admin = await NatsAdmin.connect({ servers: NATS_ADDRESS, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
    await this.admin.createStream(this.stream, [`${this.stream}.>`]);
  }

  /** What arrived so far; reads only what is new since the last call, and nothing while the server is away. */
  async arrivals(): Promise<Arrival[]> {
    try {
      const fresh = await this.admin!.read(this.stream, undefined, this.nextSeq);
      for (const message of fresh) {
        this.seen.push(arrivalOf(message.data));
        this.nextSeq = message.seq + 1;
      }
    } catch {
      // The server restarting: try again on the next call.
    }
    return this.seen;
  }

  /** Everything the stream holds, read from the first message by a fresh consumer. */
  async stored(): Promise<Arrival[]> {
    return (await this.admin!.read(this.stream)).map((m) => arrivalOf(m.data));
  }

  async stop(): Promise<void> {
    if (this.admin === undefined) return;
    await this.admin.deleteStream(this.stream);
    await this.admin.close();
  }
}

const DAEMON = '/usr/sbin/nats-server';
const START_ARGS = ['-a', '127.0.0.1', '-p', '4222', '-js', '-sd', '/var/lib/nats-server', '-l', '/var/log/nats-server.log'];

export function stopNatsServer(): void {
  execFileSync('start-stop-daemon', ['--stop', '--oknodo', '--retry', 'TERM/10/KILL/5', '--exec', DAEMON], { stdio: 'ignore' });
}

/** Starts the shared server as the machine's setup does, and waits until JetStream answers. */
export async function startNatsServer(): Promise<void> {
  execFileSync('start-stop-daemon', ['--start', '--oknodo', '--background', '--exec', DAEMON, '--', ...START_ARGS], { stdio: 'ignore' });
  await waitFor(
    async () => {
      try {
        const admin = await NatsAdmin.connect({ servers: NATS_ADDRESS, timeout: 1000 });
        await admin.jsm.getAccountInfo();
        await admin.close();
        return true;
      } catch {
        return false;
      }
    },
    30_000,
    'nats-server with JetStream back',
  );
}

/** The shared nats-server stopped for `downMs`, then started again (also when stopping failed half-way). */
export async function restartNatsServer(downMs: number): Promise<void> {
  try {
    stopNatsServer();
    await sleep(downMs);
  } finally {
    await startNatsServer();
  }
}
