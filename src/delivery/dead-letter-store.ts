import type pg from 'pg';
import type { BridgeConfig } from '../config/types.js';
import { outboxTable, REPLAY_COLUMNS } from '../schema/outbox.js';

/** Which dead letters: every condition given must hold; none given means all of this instance's. */
export interface DeadLetterFilter {
  readonly sink?: string;
  /** The event's id (the same on every retry). */
  readonly eventId?: string;
  /** Dead-letter row ids (the console's selection). */
  readonly ids?: readonly string[];
  /** Case-insensitive text in the error or the event. */
  readonly text?: string;
}

export interface DeadLetterSummary {
  readonly dead_letter_id: string;
  readonly sink: string;
  readonly event_id: string;
  readonly error: string;
  readonly attempts: number;
  readonly failed_at: string;
}

export interface RetryResult {
  readonly retried: number;
  /** Dead letters left in place because their sink is no longer in the config, by sink. */
  readonly kept: ReadonlyArray<{ readonly sink: string; readonly count: number }>;
}

type Db = pg.ClientBase | pg.Pool;

/** WHERE clause over pgbridge.dead_letters for a filter; parameters $1..$5 are filterParams(). */
const WHERE = `instance = $1 AND ($2::text IS NULL OR sink = $2) AND ($3::text IS NULL OR event_id = $3)
   AND ($4::bigint[] IS NULL OR id = ANY($4::bigint[]))
   AND ($5::text IS NULL OR strpos(lower(error), lower($5)) > 0 OR strpos(lower(event::text), lower($5)) > 0)`;

function filterParams(instance: string, filter: DeadLetterFilter): unknown[] {
  return [instance, filter.sink ?? null, filter.eventId ?? null, filter.ids ? [...filter.ids] : null, filter.text || null];
}

/**
 * One JSON text per dead letter, the event included (its JSON text as stored:
 * bigints keep every digit), oldest first (what `dead-letters list` prints).
 * The error passes `scrubError`: a letter stored by an older version may quote a secret.
 */
export async function deadLetterLines(
  db: Db,
  instance: string,
  filter: DeadLetterFilter,
  limit: number,
  scrubError: (error: string) => string,
): Promise<string[]> {
  const { rows } = await db.query<{ head: string; error: string; tail: string }>(
    `SELECT json_build_object('dead_letter_id', id, 'sink', sink, 'event_id', event_id)::text AS head, error,
            json_build_object('attempts', attempts, 'failed_at', failed_at, 'event', event)::text AS tail
       FROM pgbridge.dead_letters WHERE ${WHERE} ORDER BY id LIMIT $6`,
    [...filterParams(instance, filter), limit],
  );
  // Two objects joined into one, "error" between them where json_build_object put it before.
  return rows.map((r) => `${r.head.slice(0, -1)}, "error" : ${JSON.stringify(scrubError(r.error))}, ${r.tail.slice(1)}`);
}

/** Rows read per FETCH while a search looks for letters whose match the mask does not hide. */
const SEARCH_BATCH = 500;

/**
 * Without the events (they may be large), newest first, each error passed
 * through `scrubError`. A `text` filter matches the event or the error as
 * shown: matched against the error as stored, it would tell a masked secret
 * one guessed prefix at a time. So would a page cut at the limit before the
 * letters matching only behind the mask are left out: one cursor reads on
 * until the limit is filled, each letter once.
 */
export async function deadLetterSummaries(
  db: pg.ClientBase,
  instance: string,
  filter: DeadLetterFilter,
  limit: number,
  scrubError: (error: string) => string,
): Promise<DeadLetterSummary[]> {
  await db.query('BEGIN READ ONLY');
  let shown: DeadLetterSummary[];
  try {
    await db.query(
      `DECLARE dead_letter_search NO SCROLL CURSOR FOR
       SELECT id::text AS dead_letter_id, sink, event_id, error, attempts, failed_at,
              coalesce(strpos(lower(event::text), lower($5)) > 0, false) AS event_matches
         FROM pgbridge.dead_letters WHERE ${WHERE} ORDER BY id DESC`,
      filterParams(instance, filter),
    );
    shown = await fetchUntilFilled(db, filter.text?.toLowerCase(), limit, scrubError);
  } catch (err) {
    await db.query('ROLLBACK').catch(() => {});
    throw err;
  }
  await db.query('ROLLBACK');
  return shown;
}

async function fetchUntilFilled(
  db: pg.ClientBase,
  text: string | undefined,
  limit: number,
  scrubError: (error: string) => string,
): Promise<DeadLetterSummary[]> {
  const shown: DeadLetterSummary[] = [];
  const batch = text ? SEARCH_BATCH : limit;
  for (;;) {
    const { rows } = await db.query<DeadLetterSummary & { event_matches: boolean }>(`FETCH ${batch} FROM dead_letter_search`);
    for (const { event_matches, ...row } of rows) {
      const error = scrubError(row.error);
      if (text && !event_matches && !error.toLowerCase().includes(text)) continue;
      shown.push({ ...row, error, failed_at: new Date(row.failed_at).toISOString() });
      if (shown.length >= limit) return shown;
    }
    if (rows.length < batch) return shown;
  }
}

/**
 * The most bytes of text read into one JavaScript string: V8's limit (2^29 - 24 characters; UTF-8 has at
 * least as many bytes as UTF-16 has units). node-postgres decodes a longer value inside its socket's data
 * handler, where the error ends the process.
 */
const LONGEST_TEXT = 0x1fffffe8;

/**
 * The event of one dead letter as stored (pgbridge format, JSON text untouched), or its size in bytes when
 * it is too long to read (a letter keeps any row event Postgres holds), or undefined.
 */
export async function deadLetterEvent(db: Db, instance: string, id: string): Promise<string | { readonly bytes: number } | undefined> {
  const { rows } = await db.query<{ event: string | null; bytes: number }>(
    `SELECT CASE WHEN octet_length(event::text) <= $3 THEN event::text END AS event, octet_length(event::text)::float8 AS bytes
       FROM pgbridge.dead_letters WHERE instance = $1 AND id = $2::bigint`,
    [instance, id, LONGEST_TEXT],
  );
  if (rows.length === 0) return undefined;
  return rows[0].event ?? { bytes: rows[0].bytes };
}

/** Standing dead letters per sink. */
export async function deadLetterCounts(db: Db, instance: string): Promise<Map<string, number>> {
  const { rows } = await db.query<{ sink: string; n: number }>(
    'SELECT sink, count(*)::int AS n FROM pgbridge.dead_letters WHERE instance = $1 GROUP BY sink',
    [instance],
  );
  return new Map(rows.map((r) => [r.sink, r.n]));
}

/**
 * Moves dead letters back into the outbox, each for its own sink only and
 * with its original event id, in one transaction; the running bridge delivers them.
 * Those of sinks no longer configured stay where they are.
 */
export async function retryDeadLetters(db: pg.ClientBase, config: BridgeConfig, filter: DeadLetterFilter): Promise<RetryResult> {
  const params = filterParams(config.instance, filter);
  await db.query('BEGIN');
  try {
    // Take a transaction id before the outbox sequence is used, as the capture triggers do (see SettledWater).
    await db.query('SELECT pg_current_xact_id()');
    const { rowCount } = await db.query(
      `WITH moved AS (
         DELETE FROM pgbridge.dead_letters
          WHERE ${WHERE} AND sink = ANY($6::text[])
         RETURNING id, sink, event_id, event, key)
       INSERT INTO ${outboxTable(config.instance)} (${REPLAY_COLUMNS})
       SELECT m.event_id, m.sink,
              coalesce((m.event->>'txid')::xid8, pg_current_xact_id()), (m.event->>'ts')::timestamptz,
              m.event->>'schema', m.event->>'table', left(m.event->>'op', 1)::"char", m.key,
              CASE WHEN m.event->>'channel' IS NULL THEN m.event->'data' END,
              CASE WHEN json_typeof(m.event->'old') = 'object' THEN m.event->'old' END,
              m.event->>'channel',
              CASE WHEN m.event->>'channel' IS NULL THEN NULL
                   WHEN json_typeof(m.event->'payload') = 'string' THEN m.event->>'payload'
                   ELSE (m.event->'payload')::text END
         FROM moved m ORDER BY m.id`,
      [...params, config.sinks.map((s) => s.name)],
    );
    await db.query(`SELECT pg_notify($1, '')`, [config.notifyChannel]);
    const { rows: kept } = await db.query<{ sink: string; count: number }>(
      `SELECT sink, count(*)::int AS count FROM pgbridge.dead_letters WHERE ${WHERE} GROUP BY sink ORDER BY sink`,
      params,
    );
    await db.query('COMMIT');
    return { retried: rowCount ?? 0, kept };
  } catch (err) {
    await db.query('ROLLBACK').catch(() => {});
    throw err;
  }
}

/** Deletes dead letters for good; returns how many. */
export async function discardDeadLetters(db: Db, instance: string, filter: DeadLetterFilter): Promise<number> {
  const { rowCount } = await db.query(`DELETE FROM pgbridge.dead_letters WHERE ${WHERE}`, filterParams(instance, filter));
  return rowCount ?? 0;
}
