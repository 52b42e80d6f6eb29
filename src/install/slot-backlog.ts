import type pg from 'pg';
import { ident } from '../schema/quote.js';
import { decodePgOutput } from '../source/wal/pgoutput.js';
import { isDeliverable } from './deliverable-change.js';

/** Rows of the slot's output decoded at most: enough to say "at least N", and bounded on a slot far behind. */
export const PEEK_LIMIT = 10_000;

/** How long the look may decode: a slot far behind with little published in it is read up to the server's end. */
export const PEEK_TIMEOUT = '30s';

/**
 * The changes a wal bridge would still deliver from `slot` (at most what
 * PEEK_LIMIT rows hold), read without consuming them: the slot's position does
 * not move. The slot must not be active, and the publication must exist
 * (pgoutput cannot decode without it). Throws when it cannot tell: the look
 * timed out, or PEEK_LIMIT rows held no event and more may follow.
 */
export async function undeliveredChanges(db: pg.ClientBase, slot: string, publication: string, instance: string): Promise<number> {
  await db.query(`SET statement_timeout = '${PEEK_TIMEOUT}'`);
  try {
    const { rows } = await db.query<{ data: Buffer }>(
      // upto_nchanges stops only at a transaction's end (a 2-million-row one comes whole): LIMIT bounds what install holds.
      `SELECT data FROM pg_logical_slot_peek_binary_changes($1, NULL, $2, 'proto_version', '1', 'publication_names', $3, 'messages', 'true') LIMIT $2`,
      [slot, PEEK_LIMIT, ident(publication)],
    );
    const found = rows.filter((r) => isDeliverable(decodePgOutput(r.data), instance)).length;
    if (found === 0 && rows.length >= PEEK_LIMIT) throw new Error(`its first ${PEEK_LIMIT} messages hold no event, and what follows was not read`);
    return found;
  } finally {
    await db.query('RESET statement_timeout');
  }
}
