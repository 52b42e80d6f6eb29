import type pg from 'pg';
import { qualifiedName } from '../config/table-name.js';
import type { BridgeConfig } from '../config/types.js';
import { deadLetterCounts } from '../delivery/dead-letter-store.js';
import type { BridgeEvent, RowOp } from '../event.js';
import { installedTriggers } from '../install/catalog.js';
import { triggerName } from '../install/names.js';
import { Router } from '../router.js';
import { outboxTable } from '../schema/outbox.js';

export interface SinkBacklog {
  /** Events in the outbox this sink has yet to confirm. */
  readonly backlog: number;
  /** Age of the oldest of them, from the change in Postgres (seconds); null when there is none. */
  readonly oldestPendingSeconds: number | null;
}

export interface TableCapture {
  readonly table: string;
  readonly mode: string;
  readonly ops: readonly string[];
  /** The ops whose trigger (or, in wal mode, publication) is in place. */
  readonly inPlace: readonly string[];
  readonly missing: readonly string[];
}

/** What Postgres alone tells about a bridge: the same answers whether or not a bridge runs. */
export interface DatabaseFacts {
  readonly installed: boolean;
  readonly outboxBacklog: number | null;
  readonly sinks: ReadonlyMap<string, SinkBacklog>;
  readonly deadLetters: ReadonlyMap<string, number>;
  readonly tables: readonly TableCapture[];
  /** Whether some process holds this instance's delivery lock. */
  readonly lockHeld: boolean;
  readonly replicationLagBytes: number | null;
}

const OPS: Record<string, RowOp> = { I: 'INSERT', U: 'UPDATE', D: 'DELETE' };

interface BacklogGroup {
  target_sink: string | null;
  schema_name: string | null;
  table_name: string | null;
  op: string | null;
  channel: string | null;
  n: number;
  age: number | null;
}

export async function databaseFacts(db: pg.ClientBase, config: BridgeConfig): Promise<DatabaseFacts> {
  const table = outboxTable(config.instance);
  const { rows: present } = await db.query<{ installed: boolean }>('SELECT to_regclass($1) IS NOT NULL AS installed', [table]);
  const installed = present[0].installed;
  const lockHeld = await deliveryLockHeld(db, config.instance);
  const tables = await tableCapture(db, config);
  if (!installed) {
    return { installed, outboxBacklog: null, sinks: new Map(), deadLetters: new Map(), tables, lockHeld, replicationLagBytes: null };
  }
  const { rows: total } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`);
  return {
    installed,
    outboxBacklog: total[0].n,
    sinks: await sinkBacklogs(db, config, table),
    deadLetters: await deadLetterCounts(db, config.instance),
    tables,
    lockHeld,
    replicationLagBytes: await replicationLag(db, config),
  };
}

/**
 * Per sink, the outbox rows it has not confirmed. Which sinks a row goes to is
 * the router's answer for its table and op (or its target_sink, for a replayed
 * dead letter), so rows are counted in groups of those and routed here.
 */
async function sinkBacklogs(db: pg.ClientBase, config: BridgeConfig, table: string): Promise<Map<string, SinkBacklog>> {
  const names = config.sinks.map((s) => s.name);
  const router = new Router(config.routes, names);
  const result = new Map<string, SinkBacklog>();
  for (const sink of names) {
    const { rows } = await db.query<BacklogGroup>(
      `SELECT target_sink, schema_name, table_name, op::text AS op, channel, count(*)::int AS n,
              extract(epoch FROM clock_timestamp() - min(ts))::float8 AS age
         FROM ${table} o
        WHERE (o.target_sink IS NULL OR o.target_sink = $1)
          AND NOT EXISTS (SELECT 1 FROM pgbridge.deliveries d WHERE d.event_id = o.id AND d.sink = $1)
        GROUP BY 1, 2, 3, 4, 5`,
      [sink],
    );
    let backlog = 0;
    let oldest: number | null = null;
    for (const group of rows) {
      const routed = group.target_sink !== null ? [group.target_sink] : router.sinksFor(groupEvent(group));
      if (!routed.includes(sink)) continue;
      backlog += group.n;
      if (group.age !== null) oldest = Math.max(oldest ?? 0, group.age);
    }
    result.set(sink, { backlog, oldestPendingSeconds: oldest });
  }
  return result;
}

/** Enough of an event for the router: it looks at the channel, or the table and op. */
function groupEvent(group: BacklogGroup): BridgeEvent {
  if (group.channel !== null) return { kind: 'channel', id: '', channel: group.channel, payload: '', ts: '' };
  return {
    kind: 'row',
    id: '',
    schema: group.schema_name ?? '',
    table: group.table_name ?? '',
    op: OPS[group.op ?? 'I'] ?? 'INSERT',
    data: 'null',
    old: null,
    key: null,
    txid: '',
    ts: '',
  };
}

async function tableCapture(db: pg.ClientBase, config: BridgeConfig): Promise<TableCapture[]> {
  const mode: string = config.delivery;
  const inPlace = new Set<string>();
  if (mode === 'wal') {
    // Logical replication: a table is captured when this instance's publication covers it.
    const { rows } = await db.query<{ schema: string; table: string }>(
      'SELECT schemaname AS schema, tablename AS table FROM pg_publication_tables WHERE pubname = $1',
      [config.wal.publication],
    );
    for (const t of config.capture) {
      if (rows.some((r) => r.schema === t.schema && r.table === t.table)) for (const op of t.ops) inPlace.add(`${t.schema}\0${t.table}\0${op}`);
    }
  } else {
    const triggers = await installedTriggers(db, config.instance);
    for (const t of config.capture) {
      for (const op of t.ops) {
        if (triggers.some((tr) => tr.schema === t.schema && tr.table === t.table && tr.trigger === triggerName(config.instance, op)))
          inPlace.add(`${t.schema}\0${t.table}\0${op}`);
      }
    }
  }
  return config.capture.map((t) => {
    const ops = [...t.ops];
    const has = ops.filter((op) => inPlace.has(`${t.schema}\0${t.table}\0${op}`));
    return { table: qualifiedName(t), mode, ops, inPlace: has, missing: ops.filter((op) => !has.includes(op)) };
  });
}

/** The two-key advisory lock of LOCK_SQL, as pg_locks shows it (keys are unsigned there). */
async function deliveryLockHeld(db: pg.ClientBase, instance: string): Promise<boolean> {
  const { rows } = await db.query<{ held: boolean }>(
    `SELECT EXISTS (
       SELECT 1 FROM pg_locks
        WHERE locktype = 'advisory' AND granted AND objsubid = 2
          AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND classid::text::bigint = (hashtext('pgbridge')::bigint + 4294967296) % 4294967296
          AND objid::text::bigint = (hashtext($1)::bigint + 4294967296) % 4294967296) AS held`,
    [instance],
  );
  return rows[0].held;
}

/** In wal mode: how far this instance's slot's confirmed position trails the WAL, in bytes. */
async function replicationLag(db: pg.ClientBase, config: BridgeConfig): Promise<number | null> {
  if ((config.delivery as string) !== 'wal') return null;
  const { rows } = await db.query<{ lag: string | null }>(
    `SELECT max(pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn))::text AS lag
       FROM pg_replication_slots WHERE slot_name = $1`,
    [config.wal.slot],
  );
  return rows[0].lag === null ? null : Number(rows[0].lag);
}
