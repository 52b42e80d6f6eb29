import type pg from 'pg';
import { qualifiedName, tableKey } from '../config/table-name.js';
import type { BridgeConfig } from '../config/types.js';
import { InstallError } from './install-error.js';
import { publicationRowFilters, rowFilterOf } from './publication-filter.js';
import type { SlotDrop } from './slot-drop.js';
import { partitionsOf, replicaIdentity, walCatalog, type RecordedIdentity, type WalCatalog } from './wal-catalog.js';
import { planLeftovers, type Leftovers, type WalNames } from './wal-leftovers.js';
import {
  IDENTITY_TABLE_SQL,
  INSTANCES_TABLE_SQL,
  createSlotSql,
  forgetInstanceSql,
  handOverIdentitySql,
  publicationSql,
  publishedOps,
  registerInstanceSql,
  restoreIdentitySql,
  setFullIdentitySql,
  sqlComment,
} from './wal-sql.js';

export interface WalPlan {
  /** Before the install transaction (dropping a slot: fails cleanly while a bridge streams from it). */
  readonly before: readonly string[];
  /** Inside it. */
  readonly inside: readonly string[];
  /** After it (creating the slot: not allowed in a transaction that has written). */
  readonly after: readonly string[];
  readonly changes: readonly string[];
  /** The slots it drops (each in `before`), for install to refuse while one is streamed from or holds changes nobody delivered. */
  readonly slotDrops: readonly SlotDrop[];
}

/**
 * wal mode: the publication of the captured tables, REPLICA IDENTITY FULL on
 * each (the previous identity recorded), the slot; a slot or publication it
 * recorded under another name is removed. Any other mode: whatever a previous
 * wal-mode install left (slot, publication, identities) is removed, so a slot
 * nobody reads never holds WAL back.
 */
export async function planWalInstall(config: BridgeConfig, db: pg.ClientBase): Promise<WalPlan> {
  const { slot, publication } = config.wal;
  const catalog = await walCatalog(db, config.instance, slot, publication);
  const wal = config.delivery === 'wal';
  const inside: string[] = [
    IDENTITY_TABLE_SQL,
    INSTANCES_TABLE_SQL,
    wal ? registerInstanceSql(config.instance, publication, slot) : forgetInstanceSql(config.instance),
  ];
  const changes: string[] = [];
  const captured = new Set(wal ? config.capture.map(tableKey) : []);
  const partitions = new Map<string, Awaited<ReturnType<typeof partitionsOf>>>();
  if (wal) {
    for (const t of config.capture) {
      const found = await partitionsOf(db, t.schema, t.table);
      partitions.set(tableKey(t), found);
      for (const p of found) captured.add(tableKey(p));
    }
  }
  for (const recorded of catalog.identities) {
    if (captured.has(tableKey(recorded))) continue;
    const { sql, change } = letGo(config.instance, recorded);
    inside.push(sql);
    changes.push(change);
  }
  if (!wal) {
    const left = await planLeftovers(db, config.instance, catalog, madeBy(config, catalog), null, () => ' (not in wal mode)');
    return withLeftovers(inside, changes, left);
  }
  if (catalog.walLevel !== 'logical') {
    throw new InstallError(
      `wal_level is ${catalog.walLevel}; delivery: wal needs wal_level = logical (ALTER SYSTEM SET wal_level = logical, then restart PostgreSQL)`,
    );
  }
  if (catalog.slotDatabase !== null && catalog.slotDatabase !== catalog.database) {
    throw new InstallError(
      `replication slot ${slot} belongs to database ${catalog.slotDatabase}; slot names are per server: set wal.slot to another name`,
    );
  }
  if (catalog.slotPlugin !== null && catalog.slotPlugin !== 'pgoutput') {
    throw new InstallError(`replication slot ${slot} uses plugin ${catalog.slotPlugin}, not pgoutput; drop it or set wal.slot to another name`);
  }
  const filters = await publicationRowFilters(db, config.capture, publishedOps(config.capture));
  inside.push(...publicationSql(publication, config.capture, catalog, filters));
  changes.push(`publication ${publication}: ${config.capture.map(qualifiedName).join(', ') || 'no tables'}`);
  for (const table of config.capture) {
    if (table.where && rowFilterOf(filters, table)) changes.push(`${qualifiedName(table)}: where in the publication (row filter)`);
    else if (table.where) {
      changes.push(`${qualifiedName(table)}: where applied by the bridge (a row filter would not give the same events)`);
      // Nothing in the SQL does it, so `pgbridge sql` would not show it at all.
      inside.push(sqlComment(`${qualifiedName(table)}: where (${table.where}) is applied by pgbridge to each change, not by the publication`));
    }
    const own = (await replicaIdentity(db, table.schema, table.table)) === 'f' ? [] : [table];
    for (const t of [...own, ...(partitions.get(tableKey(table)) ?? []).filter((p) => p.ident !== 'f')]) {
      inside.push(setFullIdentitySql(config.instance, t));
      changes.push(`replica identity FULL on ${qualifiedName(t)} (previous one recorded)`);
    }
  }
  if (catalog.slotDatabase === null) changes.push(`create replication slot ${slot} (pgoutput)`);
  const renamed = (what: keyof WalNames) => ` (wal.${what} is now ${config.wal[what]})`;
  const left = await planLeftovers(db, config.instance, catalog, madeBy(config, catalog).slice(0, 1), config.wal, renamed);
  return withLeftovers(inside, changes, left, [createSlotSql(slot)]);
}

/** Everything wal mode made, whatever the mode is now. */
export async function planWalUninstall(config: BridgeConfig, db: pg.ClientBase): Promise<WalPlan> {
  const { slot, publication } = config.wal;
  const catalog = await walCatalog(db, config.instance, slot, publication);
  const inside: string[] = catalog.instancesTable ? [forgetInstanceSql(config.instance)] : [];
  const changes: string[] = [];
  for (const recorded of catalog.identities) {
    const { sql, change } = letGo(config.instance, recorded);
    inside.push(sql);
    changes.push(change);
  }
  const left = await planLeftovers(db, config.instance, catalog, madeBy(config, catalog), null, () => '');
  return withLeftovers(inside, changes, left);
}

/**
 * What this instance made in wal mode, recorded first: the slot and publication
 * pgbridge.wal_instances names (the config's slot for an install before the
 * slot was recorded), then the config's own.
 */
function madeBy(config: BridgeConfig, catalog: WalCatalog): WalNames[] {
  const recorded = catalog.recorded ? [{ slot: catalog.recorded.slot ?? config.wal.slot, publication: catalog.recorded.publication }] : [];
  return [...recorded, { slot: config.wal.slot, publication: config.wal.publication }];
}

const withLeftovers = (inside: string[], changes: string[], left: Leftovers, after: string[] = []): WalPlan => ({
  before: left.before,
  inside: [...inside, ...left.inside],
  after,
  changes: [...changes, ...left.changes],
  slotDrops: left.slotDrops,
});

/**
 * A recorded identity this instance no longer needs: put back, unless another
 * wal-mode instance still captures the table (restoring would take FULL from
 * under it); that one then takes the record over.
 */
function letGo(instance: string, recorded: RecordedIdentity): { sql: string; change: string } {
  const name = `${recorded.schema}.${recorded.table}`;
  if (recorded.heldBy !== null && recorded.current === 'f') {
    const change = `keep replica identity FULL of ${name}: instance ${recorded.heldBy} still captures it`;
    return { sql: handOverIdentitySql(instance, recorded, recorded.heldBy, change), change };
  }
  if (recorded.publishedBy !== null && recorded.current === 'f') {
    // Its instance, if it is one, registers at its next install: until then the record stays here.
    const change = `keep replica identity FULL of ${name} and its record: publication ${recorded.publishedBy} still publishes it`;
    return { sql: sqlComment(change), change };
  }
  return { sql: restoreIdentitySql(instance, recorded), change: `restore replica identity of ${name}` };
}
