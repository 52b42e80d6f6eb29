import type pg from 'pg';

/**
 * The snapshot's xmax, moved up to the next transaction id Postgres will hand
 * out. A snapshot's xmax is only "latest completed xid + 1": a transaction
 * that took its xid after the last commit runs at or above it, invisible to
 * the snapshot's xmin too. age() measures from the true next xid (read when
 * the calling transaction has none) without using one up. INT_MAX marks a
 * 32-bit xid that is not a normal one (right after wraparound): that check
 * is skipped.
 */
export const SNAPSHOT_SQL = `
SELECT pg_snapshot_xmin(s)::text AS xmin,
       (pg_snapshot_xmax(s)::text::numeric + age((pg_snapshot_xmax(s)::text::numeric % 4294967296)::text::xid))::text AS next_xid,
       age((pg_snapshot_xmax(s)::text::numeric % 4294967296)::text::xid) = 2147483647 AS unknown
  FROM pg_current_snapshot() s`;

type Queryable = pg.Pool | pg.ClientBase;

/** One row of SNAPSHOT_SQL. */
export interface SnapshotRow {
  readonly xmin: string;
  readonly next_xid: string;
  readonly unknown: boolean;
}

/** The sequence read of lastIdHandedOut(), as a statement of its own (column `last`, text). */
export const LAST_ID_SQL = `SELECT coalesce(pg_sequence_last_value('pgbridge.event_id_seq'::regclass), 0)::text AS last`;

/**
 * The last id the sequence handed out, read under the sequence's buffer lock.
 * Not `SELECT last_value FROM pgbridge.event_id_seq`: that is a plain heap read
 * of a tuple nextval() updates in place, without the lock, and every 32 values
 * nextval() puts the value 32 ahead in the tuple while it WAL-logs, then writes
 * the true one back. A read in that moment returns ids not handed out yet; a
 * water that high lets the floor pass them, and the rows written with them
 * later sit below it, unread (the stall of bench/RESULTS.md and of issue 11).
 * pg_sequence_last_value() takes the lock, so it only ever sees the true value.
 */
export async function lastIdHandedOut(db: Queryable): Promise<bigint> {
  const { rows } = await db.query<{ last: string }>(LAST_ID_SQL);
  return BigInt(rows[0].last);
}

/**
 * The highest outbox id below which every transaction has finished, so no row
 * with a smaller id can still appear. Ids come from a sequence when a row is
 * written, but transactions commit in any order: id 5 may become visible after
 * id 6. Each check reads the sequence, then the next transaction id to be
 * assigned; a writer that took an id before had its xid before too (the
 * capture trigger runs after the user's own write; the other writers take
 * one first), so once the oldest running transaction (xmin) reaches that
 * next xid, every id handed out before is settled.
 */
export class SettledWater {
  private readonly checkpoints: Array<{ nextXid: bigint; lastId: bigint }> = [];
  private water = 0n;

  constructor(private readonly readLastId: (db: Queryable) => Promise<bigint> = lastIdHandedOut) {}

  /**
   * True when the sequence is read by LAST_ID_SQL, so that a caller may send
   * it and SNAPSHOT_SQL, in this order, in one round trip with its own
   * statements and hand the rows to record().
   */
  get readsBySql(): boolean {
    return this.readLastId === lastIdHandedOut;
  }

  async advance(db: Queryable): Promise<bigint> {
    const lastId = await this.readLastId(db);
    const snap = await db.query<SnapshotRow>(SNAPSHOT_SQL);
    return this.record(lastId, snap.rows[0]);
  }

  /** The water after a check that read `lastId` from the sequence, then `snap`. */
  record(lastId: bigint, snap: SnapshotRow): bigint {
    const xmin = BigInt(snap.xmin);
    if (!snap.unknown) this.checkpoints.push({ nextXid: BigInt(snap.next_xid), lastId });
    while (this.checkpoints.length > 0 && this.checkpoints[0].nextXid <= xmin) {
      const { lastId } = this.checkpoints.shift()!;
      if (lastId > this.water) this.water = lastId;
    }
    // Bounded: under a long-running writer, keep the oldest and the newest checkpoints.
    if (this.checkpoints.length > 1000) this.checkpoints.splice(1, this.checkpoints.length - 500);
    return this.water;
  }
}
