import type pg from 'pg';
import { ident } from '../schema/quote.js';
import { decodePgOutput } from '../source/wal/pgoutput.js';
import { isDeliverable } from './deliverable-change.js';

/** Rows of the slot's output decoded at most: enough to say "at least N", and bounded on a slot far behind. */
export const PEEK_LIMIT = 10_000;

/**
 * The changes a wal bridge would still deliver from `slot` (at most what
 * PEEK_LIMIT rows hold), read without consuming them: the slot's position does
 * not move. The slot must not be active, and the publication must exist
 * (pgoutput cannot decode without it).
 */
export async function undeliveredChanges(db: pg.ClientBase, slot: string, publication: string, instance: string): Promise<number> {
  const { rows } = await db.query<{ data: Buffer }>(
    // upto_nchanges stops only at a transaction's end (a 2-million-row one comes whole): LIMIT bounds what install holds.
    `SELECT data FROM pg_logical_slot_peek_binary_changes($1, NULL, $2, 'proto_version', '1', 'publication_names', $3, 'messages', 'true') LIMIT $2`,
    [slot, PEEK_LIMIT, ident(publication)],
  );
  return rows.filter((r) => isDeliverable(decodePgOutput(r.data), instance)).length;
}
