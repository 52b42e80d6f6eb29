/** The bench process's handle on a receiver child (receiver-child.ts). */
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Progress, ReceiverSpec, Request } from './receiver-child.js';

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'receiver-child.ts');

export interface Collected extends Progress {
  readonly ids: Float64Array;
  readonly times: Float64Array;
}

export class Receiver {
  private seq = 0;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly child: ChildProcess;
  /** What start() answered (the webhook URL for http). */
  info: Record<string, unknown> = {};

  private constructor(readonly spec: ReceiverSpec) {
    this.child = fork(CHILD, [], { execArgv: ['--import', 'tsx'], serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.child.on('message', (m: { seq: number; ok: boolean; result?: unknown; error?: string }) => {
      const p = this.pending.get(m.seq);
      if (!p) return;
      this.pending.delete(m.seq);
      if (m.ok) p.resolve(m.result);
      else p.reject(new Error(`receiver (${this.spec.kind}): ${m.error}`));
    });
    this.child.on('exit', (code) => {
      for (const p of this.pending.values()) p.reject(new Error(`receiver (${this.spec.kind}) exited with ${code}`));
      this.pending.clear();
    });
  }

  static async start(spec: ReceiverSpec): Promise<Receiver> {
    const receiver = new Receiver(spec);
    receiver.info = (await receiver.request({ op: 'start', spec })) as Record<string, unknown>;
    return receiver;
  }

  get url(): string {
    return String(this.info.url);
  }

  get pid(): number {
    return this.child.pid!;
  }

  private request(request: Request): Promise<unknown> {
    const seq = ++this.seq;
    return new Promise((resolve, reject) => {
      this.pending.set(seq, { resolve, reject });
      this.child.send({ seq, request });
    });
  }

  async reset(): Promise<void> {
    await this.request({ op: 'reset' });
  }

  /** Resolves when `count` distinct rows arrived, or after `timeoutMs` with however many did. */
  wait(count: number, timeoutMs: number): Promise<Progress> {
    return this.request({ op: 'wait', count, timeoutMs }) as Promise<Progress>;
  }

  /** The rows that arrived (with `ids`, only those of that range) and when each first did. */
  collect(ids?: { readonly first: number; readonly count: number }): Promise<Collected> {
    return this.request({ op: 'collect', ids }) as Promise<Collected>;
  }

  /** Webhook: close the server (connections refused) / open it again on the same port. Replication: end / start streaming. */
  async down(): Promise<void> {
    await this.request({ op: 'down' });
  }

  async up(): Promise<void> {
    await this.request({ op: 'up' });
  }

  /**
   * After a scenario: every far end whose consumer costs CPU while nothing arrives (Kafka, LISTEN)
   * stops consuming until its next reset(), which every scenario reading it starts with.
   */
  static async idleAll(receivers: readonly Receiver[]): Promise<void> {
    const costly = receivers.filter((r) => r.info.idles === true && r.child.connected);
    const results = await Promise.allSettled(costly.map((r) => r.request({ op: 'idle' })));
    // A receiver that cannot go idle costs the next scenario some CPU; it does not fail it.
    for (const r of results) if (r.status === 'rejected') console.error(`bench: ${String(r.reason)}`);
  }

  async stop(): Promise<void> {
    await this.request({ op: 'stop' }).catch(() => {});
    this.child.disconnect();
    await new Promise((resolve) => (this.child.exitCode !== null ? resolve(null) : this.child.once('exit', resolve)));
  }
}
