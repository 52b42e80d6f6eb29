import type { Envelope } from '../delivery/envelope.js';
import { orderingKey, type BridgeEvent } from '../event.js';
import type { KeptNotice } from './notify-payload.js';

/** An event kept in the outbox table, holding its place among its row's events until it is read from there. */
class Placeholder {
  /** Read (its envelope, or none when it is not for this sink or is gone): it goes on like any event. */
  filled = false;
  envelope: Envelope | undefined;

  constructor(readonly rowId: string) {}
}

/** One row's events in order (or, while a notice could not tell its row, every row's), from `head` on. */
interface Line {
  readonly key: string;
  readonly items: Array<Placeholder | Envelope>;
  head: number;
}

/** The key of the line every row event joins while a notice without a row key waits. */
const WHOLE_SINK = '';

/**
 * One sink's per-row order around events kept in the outbox table (notify
 * mode's events too large for NOTIFY). A kept notice arrives in its event's
 * place in commit order, without the event: it leaves a placeholder in its
 * row's line, and the row's later events queue behind it while other rows go
 * on. Once the event is read from the table (fill), it takes the
 * placeholder's place and goes on, and so does what follows it, up to the
 * next placeholder. A notice whose key was too large to send cannot tell its
 * row: every row's events then wait in one line, the rows already waiting
 * folded into it in their order, until it is empty.
 */
export class RowGates {
  private readonly lines = new Map<string, Line>();
  private readonly placeholders = new Map<string, { readonly placeholder: Placeholder; line: Line }>();
  private waitingEnvelopes = 0;

  constructor(
    /** Where an envelope goes once nothing of its row is ahead of it. */
    private readonly release: (envelope: Envelope) => void,
  ) {}

  /** Envelopes waiting (the placeholders not counted). */
  get waiting(): number {
    return this.waitingEnvelopes;
  }

  /** Nothing waits. */
  get open(): boolean {
    return this.lines.size === 0;
  }

  /** A placeholder for `notice`'s event, in its row's line. */
  close(notice: KeptNotice): void {
    const { id } = notice.event;
    if (this.placeholders.has(id)) return;
    let line = this.lines.get(WHOLE_SINK) ?? (notice.anyRow ? this.foldIntoWholeSink() : undefined);
    if (line === undefined) {
      const key = orderingKey(notice.event);
      line = this.lines.get(key) ?? this.newLine(key);
    }
    const placeholder = new Placeholder(id);
    line.items.push(placeholder);
    this.placeholders.set(id, { placeholder, line });
  }

  /** Whether an event of `event`'s row would wait (a placeholder is ahead of it). */
  holds(event: BridgeEvent): boolean {
    return this.lineOf(event) !== undefined;
  }

  /** Queues `envelope` behind a placeholder of its row; false when nothing of its row waits. */
  hold(envelope: Envelope): boolean {
    const line = this.lineOf(envelope.event);
    if (line === undefined) return false;
    line.items.push(envelope);
    this.waitingEnvelopes++;
    return true;
  }

  /**
   * Kept event `rowId` was read: `envelope` takes its placeholder's place
   * (none: not for this sink, or gone from the table). False when it has no
   * placeholder here (no notice came for it): the caller sends it on.
   */
  fill(rowId: string, envelope: Envelope | undefined): boolean {
    const entry = this.placeholders.get(rowId);
    if (entry === undefined) return false;
    this.placeholders.delete(rowId);
    entry.placeholder.filled = true;
    entry.placeholder.envelope = envelope;
    this.drain(entry.line);
    return true;
  }

  /**
   * Takes every waiting envelope out, each row's in order, and drops the
   * placeholders: for a stop that cannot wait for the kept events any more.
   */
  openAll(): Envelope[] {
    const envelopes: Envelope[] = [];
    for (const line of this.lines.values()) {
      for (let i = line.head; i < line.items.length; i++) {
        const item = line.items[i];
        if (!(item instanceof Placeholder)) envelopes.push(item);
        else if (item.envelope !== undefined) envelopes.push(item.envelope);
      }
    }
    this.lines.clear();
    this.placeholders.clear();
    this.waitingEnvelopes = 0;
    return envelopes;
  }

  /** The line an event of `event`'s row joins: the whole sink's while there is one, else its row's, if any. */
  private lineOf(event: BridgeEvent): Line | undefined {
    // Channel events keep their order by channel: no kept event is ahead of them.
    if (this.lines.size === 0 || event.kind !== 'row') return undefined;
    return this.lines.get(WHOLE_SINK) ?? this.lines.get(orderingKey(event));
  }

  private newLine(key: string): Line {
    const line: Line = { key, items: [], head: 0 };
    this.lines.set(key, line);
    return line;
  }

  /** Every row's line folded, each in its order, into the whole sink's. */
  private foldIntoWholeSink(): Line {
    const whole: Line = { key: WHOLE_SINK, items: [], head: 0 };
    for (const line of this.lines.values()) whole.items.push(...line.items.slice(line.head));
    for (const entry of this.placeholders.values()) entry.line = whole;
    this.lines.clear();
    this.lines.set(WHOLE_SINK, whole);
    return whole;
  }

  private drain(line: Line): void {
    while (line.head < line.items.length) {
      const item = line.items[line.head];
      if (item instanceof Placeholder && !item.filled) break;
      line.head++;
      if (item instanceof Placeholder) {
        if (item.envelope !== undefined) this.release(item.envelope);
        continue;
      }
      this.waitingEnvelopes--;
      this.release(item);
    }
    if (line.head === line.items.length) {
      if (this.lines.get(line.key) === line) this.lines.delete(line.key);
    } else if (line.head > 1024 && line.head * 2 > line.items.length) {
      line.items.splice(0, line.head);
      line.head = 0;
    }
  }
}
