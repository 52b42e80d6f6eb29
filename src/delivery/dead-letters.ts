import type pg from 'pg';
import type { BridgeEvent } from '../event.js';
import { pgbridgeJson } from '../formats/index.js';

export interface DeadLetter {
  readonly sink: string;
  readonly event: BridgeEvent;
  readonly error: string;
  readonly attempts: number;
}

/** One INSERT for many dead letters; the caller picks the transaction. */
export async function insertDeadLetters(db: pg.ClientBase | pg.Pool, instance: string, letters: readonly DeadLetter[]): Promise<void> {
  if (letters.length === 0) return;
  await db.query(
    `INSERT INTO pgbridge.dead_letters (instance, sink, event_id, event, key, error, attempts)
     SELECT $1, x.sink, x.event_id, x.event::json, x.key::json, x.error, x.attempts
       FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int[])
            AS x(sink, event_id, event, key, error, attempts)`,
    [
      instance,
      letters.map((l) => l.sink),
      letters.map((l) => l.event.id),
      letters.map((l) => pgbridgeJson(l.event)),
      letters.map((l) => (l.event.kind === 'row' ? l.event.key : null)),
      letters.map((l) => l.error),
      letters.map((l) => l.attempts),
    ],
  );
}
