/**
 * Shared steps of the fault tests: a bridge on public.items in either
 * delivery mode, the far end's arrivals as tally input, and the shape of
 * every test: stream rows, break something mid-stream, mend it, count.
 */
import type { TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { installAndRun, waitFor, writeConfig, type RunningBridge } from '../support/bridge.js';
import type { TestDatabase } from '../support/pg.js';
import type { WebhookServer } from '../support/webhook-server.js';
import { ROWS_PER_STATEMENT, RowStream } from './row-stream.js';
import type { Arrival, OutageWindow } from './tally.js';

export type DeliveryMode = 'outbox' | 'notify';

/** Fast retries, so a fault's end is noticed within a second. */
export const FAST_RETRY = { initial_ms: 50, max_ms: 500 };

/** A clean slate for the next test on the same database: no rows, nothing installed. */
export async function resetItems(db: TestDatabase): Promise<void> {
  await db.query('DROP SCHEMA IF EXISTS pgbridge CASCADE');
  await db.query('TRUNCATE public.items');
}

/** Installs the triggers for `mode` and runs a bridge, killed after the test. */
export async function startBridge(t: TestContext, db: TestDatabase, mode: DeliveryMode, sinks: object[]): Promise<RunningBridge> {
  const file = writeConfig({
    postgres: { url: db.url },
    delivery: mode,
    capture: [{ table: 'public.items', ops: ['insert'] }],
    sinks,
    outbox: { poll_interval_ms: 200 },
    http: { port: 0 },
    log: { level: 'info' },
    shutdown_timeout_ms: 2000,
  });
  const bridge = await installAndRun(file);
  t.after(() => bridge.kill('SIGKILL'));
  return bridge;
}

export function webhookSinkConfig(url: string): object {
  return { name: 'hook', type: 'webhook', url, timeout_ms: 1000, max_in_flight: 4, batch: { max_events: 50, max_wait_ms: 5 }, retry: FAST_RETRY };
}

export function webhookArrivals(hook: WebhookServer): Arrival[] {
  return hook.tally.accepted.map((e) => ({ eventId: e.id, rowId: e.rowId }));
}

/** The fields of a pgbridge-format event body that the tally needs. */
export function arrivalOf(body: string): Arrival {
  const event = JSON.parse(body) as { id: string; data: { id: number } };
  return { eventId: event.id, rowId: Number(event.data.id) };
}

export interface FaultRun {
  /** Rows committed during the whole run. */
  readonly sent: number[];
  /** Newest row id that had arrived when the fault began. */
  readonly arrivedBeforeFault: number;
  /** Newest row id committed when `recover` resolved. */
  readonly sentBeforeRecovered: number;
}

export interface FaultSteps {
  readonly db: TestDatabase;
  readonly arrivals: () => Arrival[] | Promise<Arrival[]>;
  /** Breaks something; resolves when it is broken. */
  readonly inject: () => Promise<void> | void;
  /** How long the fault lasts before `recover` (streaming goes on meanwhile). */
  readonly holdMs: number;
  /** Mends it (or waits until the bridge says it recovered). */
  readonly recover: () => Promise<void> | void;
  /** Rows to stream after recovery, at the least (default 300). */
  readonly rowsAfter?: number;
  readonly firstId?: number;
}

/**
 * Streams rows; once some arrived, injects the fault, holds it, recovers,
 * streams on until `rowsAfter` more rows were committed and some arrived
 * after the recovery, then stops streaming. Counting is the caller's.
 */
export async function streamThroughFault(steps: FaultSteps): Promise<FaultRun> {
  const stream = new RowStream(steps.db.url, { firstId: steps.firstId ?? 1 });
  try {
    const newestArrived = async (): Promise<number> => Math.max(0, ...(await steps.arrivals()).map((a) => a.rowId));
    await waitFor(async () => (await newestArrived()) > 100, 30_000, 'the first hundred rows to arrive');
    const arrivedBeforeFault = await newestArrived();
    await steps.inject();
    await sleep(steps.holdMs);
    await steps.recover();
    const sentBeforeRecovered = stream.lastSent;
    const target = sentBeforeRecovered + (steps.rowsAfter ?? 300);
    await waitFor(() => stream.lastSent >= target, 60_000, `${steps.rowsAfter ?? 300} more rows committed`);
    await waitFor(async () => (await newestArrived()) > sentBeforeRecovered, 60_000, 'rows committed after the recovery to arrive');
    return { sent: await stream.stop(), arrivedBeforeFault, sentBeforeRecovered };
  } finally {
    await stream.stop();
  }
}

/**
 * Waits until every sent row has arrived (outbox mode), or every one outside
 * `outage` (notify mode; then a moment more for stragglers), or gives up after
 * `timeoutMs` and lets the tally tell.
 */
export async function untilAllArrived(
  sent: readonly number[],
  arrivals: () => Arrival[] | Promise<Arrival[]>,
  outage?: OutageWindow,
  timeoutMs = 60_000,
): Promise<void> {
  const expected = outage ? sent.filter((id) => id <= outage.after || id > outage.upTo) : sent;
  await waitFor(
    async () => {
      const got = new Set((await arrivals()).map((a) => a.rowId));
      return expected.every((id) => got.has(id));
    },
    timeoutMs,
    `all ${expected.length} expected rows to arrive`,
  ).catch(() => {});
  if (outage) await sleep(1000);
}

/**
 * The rows a notify-mode bridge may have lost: committed after the newest
 * row that had arrived before the fault, and at most one statement after the
 * newest committed when the bridge said it listens again (that statement may
 * have committed before LISTEN and returned after).
 */
export function outageOf(run: FaultRun, rowsPerStatement = ROWS_PER_STATEMENT): OutageWindow {
  return { after: run.arrivedBeforeFault, upTo: run.sentBeforeRecovered + rowsPerStatement };
}
