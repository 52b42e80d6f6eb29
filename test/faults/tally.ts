/**
 * What a fault cost, counted at the far end: the rows the test committed
 * (`sent`, by row id) against the events that arrived (event id and row id,
 * redeliveries included). Printed as one line per test.
 */
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';

export interface Arrival {
  readonly eventId: string;
  readonly rowId: number;
}

export interface FaultTally {
  readonly sent: number;
  /** Sent rows that arrived at least once. */
  readonly delivered: number;
  readonly lost: number;
  /** Arrivals beyond the first of an event id (at-least-once redeliveries). */
  readonly duplicated: number;
  /** The row ids that never arrived, ascending. */
  readonly lostIds: readonly number[];
}

export function tally(sent: readonly number[], arrivals: readonly Arrival[]): FaultTally {
  const arrivedRows = new Set(arrivals.map((a) => a.rowId));
  const lostIds = sent.filter((id) => !arrivedRows.has(id)).sort((a, b) => a - b);
  const uniqueEvents = new Set(arrivals.map((a) => a.eventId)).size;
  return { sent: sent.length, delivered: sent.length - lostIds.length, lost: lostIds.length, duplicated: arrivals.length - uniqueEvents, lostIds };
}

/** What every fault test prints, whatever it counted. */
export interface Counts {
  readonly sent: number;
  readonly delivered: number;
  readonly lost: number;
  readonly duplicates: number;
}

/** Prints `fault=… mode=… sent=N delivered=N lost=N duplicated=N [extra…]` under the test, one line to compare and grep runs by. */
export function printCounts(t: TestContext, fault: string, mode: string, counts: Counts, extra: Record<string, number | string> = {}): void {
  const fields = { sent: counts.sent, delivered: counts.delivered, lost: counts.lost, duplicated: counts.duplicates, ...extra };
  const line = `fault=${fault} mode=${mode} ${Object.entries(fields)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ')}`;
  t.diagnostic(line);
}

export function reportTally(t: TestContext, fault: string, mode: string, counts: FaultTally): void {
  printCounts(t, fault, mode, { ...counts, duplicates: counts.duplicated });
}

/** Tallies, prints, and (outbox mode: nothing may be lost) asserts that every sent row arrived. */
export function tallyNoLoss(t: TestContext, fault: string, sent: readonly number[], arrivals: readonly Arrival[], mode = 'outbox'): FaultTally {
  const counts = tally(sent, arrivals);
  reportTally(t, fault, mode, counts);
  assert.ok(counts.sent > 0, 'the test sent rows');
  assert.equal(counts.lost, 0, `lost rows: ${counts.lostIds.slice(0, 20).join(', ')}`);
  return counts;
}

/** Row ids committed while the bridge could not listen: (after, upTo]. */
export interface OutageWindow {
  readonly after: number;
  readonly upTo: number;
}

/** Notify mode: tallies, prints, and asserts that whatever was lost was committed during the outage. */
export function tallyBoundedLoss(
  t: TestContext,
  fault: string,
  sent: readonly number[],
  arrivals: readonly Arrival[],
  outage: OutageWindow,
): FaultTally {
  const counts = tally(sent, arrivals);
  reportTally(t, fault, 'notify', counts);
  assert.ok(counts.sent > 0, 'the test sent rows');
  const outside = counts.lostIds.filter((id) => id <= outage.after || id > outage.upTo);
  assert.deepEqual(outside, [], `rows lost outside the outage (${outage.after}, ${outage.upTo}]`);
  return counts;
}
