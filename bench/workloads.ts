/**
 * The database under test and the write workloads: bursts of multi-row
 * transactions and open-loop steady rates. Row ids are chosen here, so every
 * row's commit time is known by id (stamped right after COMMIT returns) and
 * matched with the receiver's stamp for the same id.
 */
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../test/support/pg.js';
import { pgbridgeCli, writeConfig } from './bridge.js';
import { monoMs } from './stats.js';

export { eventBody } from './event-body.js';

export const TABLES = {
  /** No trigger: Postgres' own insert rate. */
  plain: 'bench_plain',
  /** pgbridge notify-mode trigger (instance bench_notify). */
  notify: 'bench_notify',
  /** pgbridge outbox-mode trigger (instance bench_outbox). */
  outbox: 'bench_outbox',
  /** In the wal-mode publication (instance bench_wal; REPLICA IDENTITY FULL), no trigger. */
  wal: 'bench_wal',
} as const;

export const INSTANCES = { notify: 'bench_notify', outbox: 'bench_outbox', wal: 'bench_wal' } as const;
export type Mode = keyof typeof INSTANCES;
export const WAL_PUBLICATION = 'bench_wal_pub';

const COLUMNS = `id bigint PRIMARY KEY, account integer NOT NULL, status text NOT NULL, amount numeric(12,2) NOT NULL,
  note text, created_at timestamptz NOT NULL DEFAULT now()`;

/** Rows $1..$2: every row ~200 bytes of JSON as an event. */
const insertSql = (table: string): string =>
  `INSERT INTO public.${table} (id, account, status, amount, note)
   SELECT g, g % 1000, 'new', (g % 100000) / 100.0, 'bench row ' || g || ' ' || repeat('x', 40)
     FROM generate_series($1::bigint, $2::bigint) g`;

export interface BenchDatabase extends TestDatabase {
  /** Row ids never repeat within a run, whatever the table. */
  nextIds(count: number): number;
  /** Empties the bench tables (and checks the outbox is empty: a leftover means undelivered events). */
  clean(): Promise<{ outboxLeft: number }>;
  /** The wal-mode instance's slot (`bridge`), the bare replication consumer's (`bare`) and pg_recvlogical's (`recvlogical`); slot names are per server. */
  readonly slots: { readonly bridge: string; readonly bare: string; readonly recvlogical: string };
}

/**
 * A logical slot made afresh at the current WAL position: a slot left in
 * place would make the next wal scenario decode every other scenario's WAL.
 */
export async function freshSlot(db: TestDatabase, slot: string): Promise<void> {
  await dropSlot(db, slot);
  await db.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [slot]);
}

/** Drops `slot` (after its consumer disconnected) so that it holds no WAL between scenarios. */
export async function dropSlot(db: TestDatabase, slot: string): Promise<void> {
  for (let i = 0; ; i++) {
    const { rows } = await db.query<{ active: boolean }>(`SELECT active FROM pg_replication_slots WHERE slot_name = $1`, [slot]);
    if (rows.length === 0) return;
    if (!rows[0].active || i >= 100) {
      await db.query(`SELECT pg_drop_replication_slot($1)`, [slot]);
      return;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * A transaction after the scenario's writes, holding one logical message (no
 * event: not a `pgbridge:` prefix); returns the message's position. The slot is
 * confirmed past it only once every earlier transaction settled (commit order).
 */
export async function walMark(db: TestDatabase): Promise<string> {
  const { rows } = await db.query<{ lsn: string }>(`SELECT pg_logical_emit_message(true, 'pgbridge-bench', 'end')::text AS lsn`);
  return rows[0].lsn;
}

/** Whether the slot's confirmed position is past `mark` (see walMark). */
export async function slotConfirmed(db: TestDatabase, slot: string, mark: string): Promise<boolean> {
  const { rows } = await db.query<{ done: boolean }>(
    `SELECT confirmed_flush_lsn > $1::pg_lsn AS done FROM pg_replication_slots WHERE slot_name = $2`,
    [mark, slot],
  );
  return rows[0]?.done === true;
}

export async function createBenchDatabase(): Promise<BenchDatabase> {
  const db = await createTestDatabase('pgbridge_bench');
  const slots = { bridge: `${db.name}_wal`.slice(0, 63), bare: `${db.name}_bare`.slice(0, 63), recvlogical: `${db.name}_recv`.slice(0, 63) };
  for (const table of Object.values(TABLES)) await db.query(`CREATE TABLE public.${table} (${COLUMNS})`);
  for (const mode of ['notify', 'outbox', 'wal'] as const) {
    const file = writeConfig({
      postgres: { url: db.url },
      delivery: mode,
      instance: INSTANCES[mode],
      ...(mode === 'wal' ? { wal: { slot: slots.bridge, publication: WAL_PUBLICATION } } : {}),
      capture: [{ table: `public.${TABLES[mode]}`, ops: ['insert'] }],
      sinks: [{ name: 'install', type: 'stdout' }],
    });
    pgbridgeCli(['install', '-c', file]);
  }
  // Made again by each wal scenario at its start (freshSlot).
  await dropSlot(db, slots.bridge);
  let next = 1;
  return {
    ...db,
    slots,
    async drop() {
      // A database with a replication slot cannot be dropped.
      for (const slot of Object.values(slots)) await dropSlot(db, slot).catch(() => {});
      await db.drop();
    },
    nextIds(count: number) {
      const first = next;
      next += count;
      return first;
    },
    async clean() {
      const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM pgbridge.outbox_${INSTANCES.outbox}`);
      await db.query(
        `TRUNCATE ${Object.values(TABLES)
          .map((t) => `public.${t}`)
          .join(', ')}, ${Object.values(INSTANCES)
          .map((i) => `pgbridge.outbox_${i}`)
          .join(', ')}`,
      );
      return { outboxLeft: rows[0].n };
    },
  };
}

/** Rows written in one workload, with each row's commit time (monotonic ms) by id. */
export interface Written {
  readonly firstId: number;
  readonly count: number;
  /** commitAt[id - firstId]: monotonic ms right after the row's COMMIT returned. */
  readonly commitAt: Float64Array;
  readonly startedAt: number;
  readonly endedAt: number;
}

export function rowsPerSecond(w: Written): number {
  return w.count / ((w.endedAt - w.startedAt) / 1000);
}

/** `count` rows in transactions of `txnRows`, back to back on one connection. */
export async function insertBurst(db: BenchDatabase, table: string, count: number, txnRows: number): Promise<Written> {
  const client = new pg.Client(db.url);
  await client.connect();
  const firstId = db.nextIds(count);
  const commitAt = new Float64Array(count);
  const sql = { name: `burst_${table}`, text: insertSql(table) };
  try {
    const startedAt = monoMs();
    for (let offset = 0; offset < count; offset += txnRows) {
      const n = Math.min(txnRows, count - offset);
      // One statement in autocommit is one transaction: the statement-level trigger fires once for its rows.
      await client.query({ ...sql, values: [firstId + offset, firstId + offset + n - 1] });
      commitAt.fill(monoMs(), offset, offset + n);
    }
    return { firstId, count, commitAt, startedAt, endedAt: monoMs() };
  } finally {
    await client.end();
  }
}

export interface SteadyResult extends Written {
  readonly targetRate: number;
  /** Rows committed per second, first scheduled start to last commit. */
  readonly achievedRate: number;
  /** How late the generator started its last transaction against the schedule, ms. */
  readonly lagMs: number;
}

/**
 * Open loop: transaction k of `txnRows` rows starts at t0 + k·interval
 * whatever the previous ones did (up to `connections` at once), so a slow
 * bridge or database shows up as latency, not as a politely reduced rate.
 */
export async function steadyLoad(
  db: BenchDatabase,
  table: string,
  rate: number,
  txnRows: number,
  seconds: number,
  connections = 8,
): Promise<SteadyResult> {
  const pool = new pg.Pool({ connectionString: db.url, max: connections });
  pool.on('error', () => {});
  // Warm the connections (and their prepared statement) outside the measured window.
  const sql = { name: `steady_${table}`, text: insertSql(table) };
  await Promise.all(Array.from({ length: connections }, () => pool.query('SELECT 1')));
  const count = Math.round(rate * seconds);
  const txns = Math.ceil(count / txnRows);
  const intervalMs = (1000 * txnRows) / rate;
  const firstId = db.nextIds(count);
  const commitAt = new Float64Array(count);
  let inFlight = 0;
  let issued = 0;
  let lagMs = 0;
  const failures: unknown[] = [];
  const all: Promise<void>[] = [];
  const startedAt = monoMs();
  try {
    while (issued < txns) {
      const now = monoMs();
      const due = Math.min(txns, Math.floor((now - startedAt) / intervalMs) + 1);
      while (issued < due && inFlight < connections) {
        const k = issued++;
        lagMs = Math.max(0, now - (startedAt + k * intervalMs));
        const offset = k * txnRows;
        const n = Math.min(txnRows, count - offset);
        inFlight++;
        all.push(
          pool.query({ ...sql, values: [firstId + offset, firstId + offset + n - 1] }).then(
            () => {
              commitAt.fill(monoMs(), offset, offset + n);
              inFlight--;
            },
            (err: unknown) => {
              failures.push(err);
              inFlight--;
            },
          ),
        );
      }
      await new Promise((r) => setTimeout(r, issued < due ? 0 : Math.max(0, Math.min(5, startedAt + issued * intervalMs - monoMs()))));
    }
    await Promise.all(all);
    if (failures.length > 0) throw new Error(`${failures.length} inserts failed: ${String(failures[0])}`);
    const endedAt = monoMs();
    return { firstId, count, commitAt, startedAt, endedAt, targetRate: rate, achievedRate: count / ((endedAt - startedAt) / 1000), lagMs };
  } finally {
    await pool.end();
  }
}
