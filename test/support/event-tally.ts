/** The event fields the tests look at. */
export interface Seen {
  readonly id: string;
  readonly op: string;
  readonly rowId: number;
  readonly v: number;
}

/** Channel events (no row) get rowId -1 and op CHANNEL; a TRUNCATE (data null) rowId -1 and its op. */
function toSeen(event: unknown): Seen {
  const e = event as { id: string; op?: string; data?: { id: number; v: number } | null };
  if (e.data === undefined) return { id: e.id, op: 'CHANNEL', rowId: -1, v: 0 };
  if (e.data === null) return { id: e.id, op: e.op ?? '', rowId: -1, v: 0 };
  return { id: e.id, op: e.op ?? '', rowId: Number(e.data.id), v: Number(e.data.v) };
}

/** Everything one far end accepted, in arrival order, with the counts the tests print. */
export class Tally {
  readonly accepted: Seen[] = [];

  add(events: readonly unknown[]): void {
    for (const e of events) this.accepted.push(toSeen(e));
  }

  get unique(): number {
    return new Set(this.accepted.map((e) => e.id)).size;
  }

  get duplicates(): number {
    return this.accepted.length - this.unique;
  }

  /** sent/delivered/lost/duplicates for `sent` events whose rows are `expected` (set of "rowId:v"). */
  summary(sent: number, expectedKeys?: ReadonlySet<string>): { sent: number; delivered: number; lost: number; duplicates: number } {
    const got = new Set(this.accepted.map((e) => `${e.rowId}:${e.v}`));
    const lost = expectedKeys ? [...expectedKeys].filter((k) => !got.has(k)).length : Math.max(0, sent - this.unique);
    return { sent, delivered: this.unique, lost, duplicates: this.duplicates };
  }

  /** Per row, the v values in order of first arrival (a redelivery repeats an old one; it does not reorder). */
  firstArrivalsByRow(): Map<number, number[]> {
    const seen = new Set<string>();
    const byRow = new Map<number, number[]>();
    for (const e of this.accepted) {
      if (seen.has(e.id)) continue;
      seen.add(e.id);
      const list = byRow.get(e.rowId) ?? [];
      list.push(e.v);
      byRow.set(e.rowId, list);
    }
    return byRow;
  }
}
