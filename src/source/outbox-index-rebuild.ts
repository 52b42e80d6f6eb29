import type { Logger } from 'pino';
import pg from 'pg';
import { errorMessage } from '../errors.js';
import { pinRenderSettings } from '../postgres.js';

export interface RebuildLimits {
  /** An index is rebuilt once it is this large … */
  readonly minBytes: number;
  /** … and larger than this many bytes per live row (a btree entry of the outbox takes about 25) … */
  readonly bytesPerRow: number;
  /** … at most once per table in this time (a failed attempt counts). */
  readonly intervalMs: number;
  /** How long one REINDEX or DROP INDEX may wait for older transactions. */
  readonly statementTimeoutMs: number;
}

const DEFAULT_LIMITS: RebuildLimits = { minBytes: 8 * 1024 * 1024, bytesPerRow: 100, intervalMs: 60_000, statementTimeoutMs: 30_000 };

interface IndexSize {
  readonly index: string;
  readonly bytes: string;
}

/**
 * VACUUM empties the outbox's btree pages, but up to PostgreSQL 15 an emptied
 * page is reused only once no transaction and no replication slot anywhere in
 * the cluster is older than its deletion (the shared horizon, not this
 * database's). One forgotten logical slot or one long transaction in another
 * database, and the primary key grows by the whole stream while the heap stays
 * small (measured here: +2.5 MB a minute at 2,000 rows/s). Rebuilding an index
 * of a few thousand live rows with REINDEX CONCURRENTLY takes milliseconds and
 * blocks no writer, so the delivering instance does that when an index is
 * clearly larger than its rows need.
 *
 * REINDEX CONCURRENTLY and DROP INDEX CONCURRENTLY wait for every older
 * transaction that holds a lock on the table (an application's transaction left
 * open after writing a captured row): they run on a connection of their own
 * with a statement timeout, at most once per interval, and stop() cancels one
 * in flight, so neither a pool connection nor shutdown waits for them.
 */
export class OutboxIndexRebuild {
  private readonly nextAttempt = new Map<string, number>();
  private refused = false;
  private stopped = false;
  /** The backend of the rebuild in flight, for stop() to cancel. */
  private runningPid: number | undefined;

  constructor(
    private readonly pool: pg.Pool,
    private readonly logger: Logger,
    private readonly limits: RebuildLimits = DEFAULT_LIMITS,
  ) {}

  /** Drops a failed rebuild's leftovers and rebuilds the table's bloated indexes; `live` is the table's live row count from its statistics. */
  async check(table: string, live: number): Promise<void> {
    if (this.refused || this.stopped || Date.now() < (this.nextAttempt.get(table) ?? 0)) return;
    const leftovers = await this.leftovers(table);
    const bloated = (await this.indexSizes(table)).filter(
      ({ bytes }) => Number(bytes) >= this.limits.minBytes && Number(bytes) >= Math.max(live, 1) * this.limits.bytesPerRow,
    );
    if (leftovers.length === 0 && bloated.length === 0) return;
    this.nextAttempt.set(table, Date.now() + this.limits.intervalMs);
    await this.onOwnConnection(async (db) => {
      for (const index of leftovers) {
        if (this.stopped) return;
        await db.query(`DROP INDEX CONCURRENTLY IF EXISTS ${index}`);
      }
      for (const { index, bytes } of bloated) {
        if (this.stopped) return;
        const started = Date.now();
        await db.query(`REINDEX INDEX CONCURRENTLY ${index}`);
        const after = await db.query<{ bytes: string }>(`SELECT pg_relation_size($1::regclass)::text AS bytes`, [index]);
        this.logger.info(
          {
            index,
            mbBefore: +(Number(bytes) / 1048576).toFixed(1),
            mbAfter: +(Number(after.rows[0]?.bytes ?? 0) / 1048576).toFixed(1),
            liveRows: live,
            ms: Date.now() - started,
            inactiveSlots: await this.inactiveSlots(db),
          },
          'rebuilt a bloated outbox index (emptied pages are not reused while an old transaction or replication slot holds back the cluster-wide horizon)',
        );
      }
    });
  }

  /** Cancels a rebuild in flight (it leaves an invalid index, dropped by the next instance's first check) and starts no other. */
  async stop(): Promise<void> {
    this.stopped = true;
    const pid = this.runningPid;
    if (pid) await this.pool.query('SELECT pg_cancel_backend($1)', [pid]).catch(() => {});
  }

  /** Not the table's owner: the rebuild is off for good, vacuuming goes on; any other failure is tried again after the interval. */
  private async onOwnConnection(work: (db: pg.Client) => Promise<void>): Promise<void> {
    const db = new pg.Client(this.pool.options);
    db.on('error', () => {}); // a connection lost mid-statement also rejects that statement, handled below
    try {
      await db.connect();
      await pinRenderSettings(db);
      const { rows } = await db.query<{ pid: number }>(`SELECT pg_backend_pid() AS pid, set_config('statement_timeout', $1, false)`, [
        String(Math.round(this.limits.statementTimeoutMs)),
      ]);
      this.runningPid = rows[0].pid;
      if (this.stopped) return;
      await work(db);
    } catch (err) {
      if ((err as { code?: string }).code === '42501') {
        this.refused = true;
        this.logger.warn({ err: errorMessage(err) }, 'cannot rebuild the outbox index (not its owner)');
      } else if (!this.stopped) {
        this.logger.warn({ err: errorMessage(err) }, 'rebuilding a bloated outbox index failed; trying again later');
      }
    } finally {
      this.runningPid = undefined;
      await db.end().catch(() => {});
    }
  }

  private async indexSizes(table: string): Promise<IndexSize[]> {
    const { rows } = await this.pool.query<IndexSize>(
      `SELECT i.indexrelid::regclass::text AS index, pg_relation_size(i.indexrelid)::text AS bytes
         FROM pg_index i WHERE i.indrelid = $1::regclass AND i.indisvalid`,
      [table],
    );
    return rows;
  }

  /** A REINDEX CONCURRENTLY that failed half way leaves an invalid `<index>_ccnew` (or `_ccold`) behind. */
  private async leftovers(table: string): Promise<string[]> {
    const { rows } = await this.pool.query<{ index: string }>(
      `SELECT i.indexrelid::regclass::text AS index FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
        WHERE i.indrelid = $1::regclass AND NOT i.indisvalid AND c.relname ~ '_cc(new|old)[0-9]*$'`,
      [table],
    );
    return rows.map((r) => r.index);
  }

  private async inactiveSlots(db: pg.Client): Promise<string[]> {
    const { rows } = await db.query<{ slot_name: string }>(`SELECT slot_name FROM pg_replication_slots WHERE NOT active ORDER BY 1`);
    return rows.map((r) => r.slot_name);
  }
}
