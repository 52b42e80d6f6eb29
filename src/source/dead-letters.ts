import type { Logger } from 'pino';
import type pg from 'pg';
import type { Outcome } from '../delivery/envelope.js';
import type { BridgeEvent, RowChangeEvent } from '../event.js';
import { errorMessage, tooLargeToEncode } from '../errors.js';
import { pgbridgeJson, pgbridgeJsonAround } from '../formats/index.js';
import { SerialWriter } from './serial-writer.js';

export interface DeadLetter {
  readonly sink: string;
  readonly event: BridgeEvent;
  readonly error: string;
  readonly attempts: number;
}

export const deadLetterOf = (sink: string, event: BridgeEvent, outcome: Extract<Outcome, { kind: 'dead' }>): DeadLetter => ({
  sink,
  event,
  error: outcome.error,
  attempts: outcome.attempts,
});

/**
 * An event a sink dead-lettered already is not written again: wal mode, after a
 * crash, replays from the slot's confirmed position and fails the same events
 * again, which `dead-letters retry` would otherwise send twice. (A retry deletes
 * the letter, so a later failure of the same event is written.)
 */
const INSERT_SQL = `INSERT INTO pgbridge.dead_letters (instance, sink, event_id, event, key, error, attempts)
     SELECT $1, x.sink, x.event_id, x.event::json, x.key::json, x.error, x.attempts
       FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int[]) WITH ORDINALITY
            AS x(sink, event_id, event, key, error, attempts, n)
      WHERE NOT EXISTS (SELECT 1 FROM pgbridge.dead_letters d WHERE d.instance = $1 AND d.sink = x.sink AND d.event_id = x.event_id)
      ORDER BY x.n`;

/**
 * Event text in one INSERT_SQL at most. node-postgres sends an array as one
 * literal, each quote and backslash escaped (up to twice the events' length), and that
 * literal must stay a JavaScript string (2^29 characters): letters that fit
 * alone could not together. A larger event goes on its own (INSERT_ONE_SQL).
 */
const ARRAY_CHARS = 2 ** 27;

/** One letter, its event text put together by Postgres: too large for one string here (see eventText), or for an array literal. */
const INSERT_ONE_SQL = `INSERT INTO pgbridge.dead_letters (instance, sink, event_id, event, key, error, attempts)
     SELECT $1, $2, $3, ($4::text || $5::text || $6::text || $7::text || $8::text)::json, $9::json, $10, $11
      WHERE NOT EXISTS (SELECT 1 FROM pgbridge.dead_letters d WHERE d.instance = $1 AND d.sink = $2 AND d.event_id = $3)`;

/**
 * The letter's event as the text stored, or undefined for a row event whose
 * data and old together are longer than a JavaScript string can be (2^29
 * characters): a capture keeps any row Postgres can hold, so the letter must too.
 */
function eventText(letter: DeadLetter): string | undefined {
  try {
    return pgbridgeJson(letter.event);
  } catch (err) {
    if (tooLargeToEncode(err) && letter.event.kind === 'row') return undefined;
    throw err;
  }
}

/** Letters written by one statement at most. */
const BATCH = 500;
/** wal mode's letters are never given up: until written, the slot keeps their transactions. */
const UNTIL_WRITTEN = { initial_ms: 200, max_ms: 10_000, max_attempts: 0 };

interface Storing {
  readonly letter: DeadLetter;
  readonly stored: () => void;
}

/**
 * The one writer of pgbridge.dead_letters. In outbox mode a dead letter is
 * written in the transaction that removes its row (`insert`); in notify mode
 * nothing else is written with it (`record`: batched, retried, a loss logged);
 * in wal mode its transaction is confirmed to the slot once it is written
 * (`store`: batched, retried until written).
 */
export class DeadLetterWriter {
  private readonly background: SerialWriter<DeadLetter>;
  private storing: SerialWriter<Storing>;

  constructor(
    private readonly pool: pg.Pool,
    private readonly instance: string,
    private readonly logger: Logger,
  ) {
    this.background = new SerialWriter((letters) => this.insert(this.pool, letters), {
      batch: BATCH,
      retry: { initial_ms: 200, max_ms: 2000, max_attempts: 5 },
      onFailure: (letters, attempt, err) =>
        this.logger.warn({ letters: letters.length, attempt, err: errorMessage(err) }, 'writing dead letters failed'),
      onLost: (letters, _attempts, err) => {
        for (const l of letters) this.logger.error({ sink: l.sink, id: l.event.id, err: errorMessage(err) }, 'could not write a dead letter');
      },
    });
    this.storing = this.newStoring();
  }

  /** One INSERT for many dead letters, in the caller's transaction (or on its own with the pool). */
  async insert(db: pg.ClientBase | pg.Pool, batch: readonly DeadLetter[]): Promise<void> {
    let letters: Array<{ letter: DeadLetter; event: string }> = [];
    let chars = 0;
    for (const letter of firstOfEach(batch)) {
      const event = eventText(letter);
      if (event !== undefined && event.length <= ARRAY_CHARS) {
        if (chars + event.length > ARRAY_CHARS) {
          await this.insertMany(db, letters);
          [letters, chars] = [[], 0];
        }
        letters.push({ letter, event });
        chars += event.length;
        continue;
      }
      await this.insertMany(db, letters);
      [letters, chars] = [[], 0];
      if (event !== undefined) await this.insertOne(db, letter, [event, '', '', '', '']);
      else {
        const row = letter.event as RowChangeEvent;
        const [head, between, tail] = pgbridgeJsonAround(row);
        await this.insertOne(db, letter, [head, row.data, between, row.old ?? 'null', tail]);
      }
    }
    await this.insertMany(db, letters);
  }

  /** Letters whose events together fit one array literal (ARRAY_CHARS). */
  private async insertMany(db: pg.ClientBase | pg.Pool, letters: ReadonlyArray<{ letter: DeadLetter; event: string }>): Promise<void> {
    if (letters.length > 0) {
      await db.query(INSERT_SQL, [
        this.instance,
        letters.map(({ letter }) => letter.sink),
        letters.map(({ letter }) => letter.event.id),
        letters.map(({ event }) => event),
        letters.map(({ letter }) => (letter.event.kind === 'row' ? letter.event.key : null)),
        letters.map(({ letter }) => letter.error),
        letters.map(({ letter }) => letter.attempts),
      ]);
    }
  }

  /** One letter, its event text in `pieces` (parameters of their own, no array literal): Postgres puts them together. */
  private async insertOne(db: pg.ClientBase | pg.Pool, letter: DeadLetter, pieces: readonly [string, string, string, string, string]): Promise<void> {
    const { event } = letter;
    await db.query(INSERT_ONE_SQL, [
      this.instance,
      letter.sink,
      event.id,
      ...pieces,
      event.kind === 'row' ? event.key : null,
      letter.error,
      letter.attempts,
    ]);
  }

  /** Writes `letter` soon, on its own. */
  record(letter: DeadLetter): void {
    this.background.push(letter);
  }

  /** Writes `letter` soon, with others, retrying until it is written; then calls `stored`. */
  store(letter: DeadLetter, stored: () => void): void {
    this.storing.push({ letter, stored });
  }

  /**
   * Stops storing at `deadline`: what is not written by then is left where it
   * came from (the slot). The next source (after a lost lock) stores anew.
   */
  async stopStoring(deadline: number): Promise<void> {
    const stopping = this.storing;
    this.storing = this.newStoring();
    await stopping.stop(deadline);
  }

  private newStoring(): SerialWriter<Storing> {
    return new SerialWriter(
      async (items) => {
        await this.insert(
          this.pool,
          items.map((item) => item.letter),
        );
        for (const item of items) item.stored();
      },
      {
        batch: BATCH,
        retry: UNTIL_WRITTEN,
        onFailure: (items, attempt, err) =>
          this.logger.warn(
            { letters: items.length, attempt, err: errorMessage(err) },
            'could not store dead letters; the slot keeps their transactions, retrying',
          ),
        onLost: () => {},
      },
    );
  }

  /** Resolves once every recorded letter is written (or reported lost). */
  flushed(): Promise<void> {
    return this.background.flushed();
  }
}

/** The first letter of each sink and event, in order (a replay can bring an event twice). */
function firstOfEach(letters: readonly DeadLetter[]): readonly DeadLetter[] {
  const seen = new Set<string>();
  return letters.filter((l) => {
    const key = `${l.sink}\0${l.event.id}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
