import type pg from 'pg';

export interface RecordedIdentity {
  readonly schema: string;
  readonly table: string;
  /** pg_class.relreplident before install: d, n, i (f is never recorded: nothing to restore). */
  readonly previous: string;
  readonly index: string | null;
  /** The table's identity now ('' when the table is gone). */
  readonly current: string;
  /**
   * Another wal-mode instance whose publication includes the table (or a
   * partitioned table above it): it still needs FULL, and takes the record over.
   */
  readonly heldBy: string | null;
  /**
   * Another publication that includes the table and no registered instance
   * owns (one installed before pgbridge.wal_instances, or not pgbridge's):
   * its subscriber may need FULL too, and nobody is known to hand the record to.
   */
  readonly publishedBy: string | null;
}

export interface WalCatalog {
  readonly walLevel: string;
  readonly database: string;
  /** The slot's database, when a slot of that name exists anywhere on the server. */
  readonly slotDatabase: string | null;
  readonly slotPlugin: string | null;
  readonly publicationExists: boolean;
  /** publish_via_partition_root of the publication (false when it does not exist). */
  readonly viaRoot: boolean;
  /** Tables in the publication now. */
  readonly publicationTables: readonly { readonly schema: string; readonly table: string }[];
  readonly identities: readonly RecordedIdentity[];
  /** pgbridge.wal_instances exists (installs before it have none). */
  readonly instancesTable: boolean;
  /** What pgbridge.wal_instances says this instance installed last (slot null: an install before the column). */
  readonly recorded: RecordedWalObjects | null;
}

export interface RecordedWalObjects {
  readonly publication: string;
  readonly slot: string | null;
}

const TABLES_PRESENT = `SELECT to_regclass('pgbridge.replica_identity') IS NOT NULL AS identities,
                               to_regclass('pgbridge.wal_instances') IS NOT NULL AS instances`;

/** pg_publication_tables row p lists the recorded table r, itself or as a partition. */
const LISTS_TABLE = `((p.schemaname = r.schema_name AND p.tablename = r.table_name)
          OR (p.schemaname, p.tablename) IN (
               SELECT n.nspname, c.relname
                 FROM pg_partition_ancestors(to_regclass(format('%I.%I', r.schema_name, r.table_name))) a
                 JOIN pg_class c ON c.oid = a.relid JOIN pg_namespace n ON n.oid = c.relnamespace))`;

/** The first other instance (by name) whose publication has the recorded table r. */
const HELD_BY = `(SELECT min(w.instance) FROM pgbridge.wal_instances w JOIN pg_publication_tables p ON p.pubname = w.publication
   WHERE w.instance <> $1 AND ${LISTS_TABLE})`;

/** The first other publication with the recorded table r that no registered instance owns ($2: this instance's own). */
const publishedBy = (instancesTable: boolean): string => `(SELECT min(p.pubname) FROM pg_publication_tables p
   WHERE p.pubname <> $2 AND ${LISTS_TABLE}
     ${instancesTable ? 'AND NOT EXISTS (SELECT 1 FROM pgbridge.wal_instances w WHERE w.publication = p.pubname)' : ''})`;

/** What wal-mode install and uninstall plan from; reads only. */
export async function walCatalog(db: pg.ClientBase, instance: string, slot: string, publication: string): Promise<WalCatalog> {
  const { rows } = await db.query<{
    wal_level: string;
    database: string;
    slot_db: string | null;
    plugin: string | null;
    pub: boolean;
    via_root: boolean;
    tables: Array<[string, string]>;
  }>(
    `SELECT current_setting('wal_level') AS wal_level, current_database() AS database,
            (SELECT s.database FROM pg_replication_slots s WHERE s.slot_name = $1) AS slot_db,
            (SELECT s.plugin FROM pg_replication_slots s WHERE s.slot_name = $1) AS plugin,
            EXISTS (SELECT 1 FROM pg_publication p WHERE p.pubname = $2) AS pub,
            coalesce((SELECT p.pubviaroot FROM pg_publication p WHERE p.pubname = $2), false) AS via_root,
            coalesce((SELECT json_agg(json_build_array(t.schemaname, t.tablename) ORDER BY 1, 2) FROM pg_publication_tables t WHERE t.pubname = $2), '[]') AS tables`,
    [slot, publication],
  );
  const row = rows[0];
  let identities: RecordedIdentity[] = [];
  const present = (await db.query<{ identities: boolean; instances: boolean }>(TABLES_PRESENT)).rows[0];
  if (present.identities) {
    identities = (
      await db.query<RecordedIdentity>(
        `SELECT r.schema_name AS schema, r.table_name AS table, r.previous, r.index_name AS index,
                coalesce((SELECT c.relreplident::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                           WHERE n.nspname = r.schema_name AND c.relname = r.table_name), '') AS current,
                ${present.instances ? HELD_BY : 'NULL::text'} AS "heldBy",
                ${publishedBy(present.instances)} AS "publishedBy"
           FROM pgbridge.replica_identity r WHERE r.instance = $1 ORDER BY 1, 2`,
        [instance, publication],
      )
    ).rows;
  }
  return {
    recorded: present.instances ? await recordedWalObjects(db, instance) : null,
    walLevel: row.wal_level,
    database: row.database,
    slotDatabase: row.slot_db,
    slotPlugin: row.plugin,
    publicationExists: row.pub,
    viaRoot: row.via_root,
    publicationTables: row.tables.map(([schema, table]) => ({ schema, table })),
    identities,
    instancesTable: present.instances,
  };
}

/** to_jsonb: a table made before the slot column has none, and naming it would fail. */
async function recordedWalObjects(db: pg.ClientBase, instance: string): Promise<RecordedWalObjects | null> {
  const { rows } = await db.query<RecordedWalObjects>(
    `SELECT w.publication, to_jsonb(w) ->> 'slot' AS slot FROM pgbridge.wal_instances w WHERE w.instance = $1`,
    [instance],
  );
  return rows[0] ?? null;
}

/** A captured table's replica identity now. */
export async function replicaIdentity(db: pg.ClientBase, schema: string, table: string): Promise<string> {
  const { rows } = await db.query<{ ident: string }>(
    `SELECT c.relreplident::text AS ident FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2`,
    [schema, table],
  );
  return rows[0]?.ident ?? '';
}

/**
 * The partitions of a partitioned table, at every level, with their replica
 * identity (empty for a plain table). REPLICA IDENTITY is per partition (ALTER
 * TABLE on the parent does not recurse), and a partition's own decides what
 * old row an UPDATE or DELETE logs.
 */
export async function partitionsOf(
  db: pg.ClientBase,
  schema: string,
  table: string,
): Promise<Array<{ schema: string; table: string; ident: string }>> {
  const { rows } = await db.query<{ schema: string; table: string; ident: string }>(
    `SELECT n.nspname AS schema, c.relname AS table, c.relreplident::text AS ident
       FROM pg_partition_tree(format('%I.%I', $1::text, $2::text)::regclass) p
       JOIN pg_class c ON c.oid = p.relid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE p.level > 0 ORDER BY p.level, n.nspname, c.relname`,
    [schema, table],
  );
  return rows;
}
