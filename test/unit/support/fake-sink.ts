import pino from 'pino';
import type { Envelope, Outcome } from '../../../src/delivery/envelope.js';
import type { BridgeEvent } from '../../../src/event.js';
import { Metrics } from '../../../src/metrics.js';
import type { Sink } from '../../../src/sinks/sink.js';

export const silent = pino({ level: 'silent' });
export const metrics = (): Metrics => new Metrics('test');

/** Row change `n` of `key` (a row of public.t). */
export function rowEvent(n: number, key = n): BridgeEvent {
  return {
    kind: 'row',
    id: String(n),
    schema: 'public',
    table: 't',
    op: 'INSERT',
    data: `{"id":${key},"n":${n}}`,
    old: null,
    key: `{"id":${key}}`,
    txid: '1',
    ts: `2026-01-01T00:00:${String(n % 60).padStart(2, '0')}.000000+00:00`,
  };
}

/**
 * A sink in memory: what each send() carried, in order, and a script of
 * what the next sends do (throw an error, or wait until released).
 */
export class FakeSink implements Sink {
  readonly type = 'fake';
  readonly sent: BridgeEvent[][] = [];
  /** Errors the next sends throw, one each, before the far end accepts again. */
  readonly failures: Error[] = [];
  /** Once `failures` is empty: the error a send of this batch throws, if any. */
  refuse: ((batch: readonly BridgeEvent[]) => Error | undefined) | undefined;
  /** While set, a send waits for it before it answers. */
  gate: Promise<void> | undefined;
  /** Called as each send() starts, before it answers. */
  onSend: (() => void) | undefined;
  connectFailures = 0;
  connects = 0;
  closed = false;
  private ready = true;

  constructor(
    readonly name = 'fake',
    readonly maxBatch = 10,
    readonly maxInFlight = 1,
  ) {}

  /** Not connected: the runner calls connect() before the next send. */
  disconnect(): void {
    this.ready = false;
  }

  async connect(): Promise<void> {
    this.connects++;
    if (this.connectFailures > 0) {
      this.connectFailures--;
      throw new Error('connection refused');
    }
    this.ready = true;
  }

  async send(batch: readonly BridgeEvent[], signal: AbortSignal): Promise<void> {
    this.onSend?.();
    if (this.gate) await Promise.race([this.gate, new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }))]);
    if (signal.aborted) throw new Error('aborted');
    const failure = this.failures.shift() ?? this.refuse?.(batch);
    if (failure) throw failure;
    this.sent.push([...batch]);
  }

  isReady(): boolean {
    return this.ready;
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

/** An envelope whose outcomes are collected, keyed by event id. */
export function collecting(event: BridgeEvent, outcomes: Map<string, Outcome[]>): Envelope {
  return {
    event,
    settle: (outcome) => outcomes.set(event.id, [...(outcomes.get(event.id) ?? []), outcome]),
  };
}

export async function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
