/**
 * The one line every fault test prints, so runs can be compared and grepped:
 * `fault=<name> mode=<mode> sent=N delivered=N lost=N duplicated=N [extra=…]`.
 */
import type { TestContext } from 'node:test';

export interface Counts {
  readonly sent: number;
  readonly delivered: number;
  readonly lost: number;
  readonly duplicates: number;
}

export function printCounts(t: TestContext, fault: string, mode: string, counts: Counts, extra: Record<string, number | string> = {}): void {
  const fields = { sent: counts.sent, delivered: counts.delivered, lost: counts.lost, duplicated: counts.duplicates, ...extra };
  const line = `fault=${fault} mode=${mode} ${Object.entries(fields)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ')}`;
  t.diagnostic(line);
}
