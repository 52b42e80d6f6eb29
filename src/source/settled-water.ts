import type pg from 'pg';

/**
 * The highest outbox id below which every transaction has finished, so no row
 * with a smaller id can still appear. Ids come from a sequence when a row is
 * written, but transactions commit in any order: id 5 may become visible after
 * id 6. Each check reads the sequence, then a snapshot's xmax; once the oldest
 * running transaction (xmin) passes that xmax, every id handed out before is settled.
 */
export class SettledWater {
  private readonly checkpoints: Array<{ xmax: bigint; lastId: bigint }> = [];
  private water = 0n;

  async advance(db: pg.Pool | pg.ClientBase): Promise<bigint> {
    const seq = await db.query<{ last: string }>(
      'SELECT CASE WHEN is_called THEN last_value ELSE 0 END::text AS last FROM pgbridge.event_id_seq',
    );
    const snap = await db.query<{ xmin: string; xmax: string }>(
      'SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS xmin, pg_snapshot_xmax(pg_current_snapshot())::text AS xmax',
    );
    const xmin = BigInt(snap.rows[0].xmin);
    this.checkpoints.push({ xmax: BigInt(snap.rows[0].xmax), lastId: BigInt(seq.rows[0].last) });
    while (this.checkpoints.length > 0 && this.checkpoints[0].xmax <= xmin) {
      const { lastId } = this.checkpoints.shift()!;
      if (lastId > this.water) this.water = lastId;
    }
    // Bounded: under a long-running writer, keep the oldest and the newest checkpoints.
    if (this.checkpoints.length > 1000) this.checkpoints.splice(1, this.checkpoints.length - 500);
    return this.water;
  }
}
