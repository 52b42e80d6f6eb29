import { readFileSync } from 'node:fs';
import type pg from 'pg';
import { CAPTURE_OPS, type CaptureOp } from '../config/schema.js';
import { qualifiedName } from '../config/table-name.js';
import type { BridgeConfig, CaptureTable } from '../config/types.js';
import { packageFile } from '../package-root.js';
import { outboxTable, outboxTableSql } from '../schema/outbox.js';
import { ident } from '../schema/quote.js';
import { captureOpDefinition, captureOpSql, type CaptureOpDefinition } from './capture-sql.js';
import { installedFunctions, installedTriggers, otherOutboxes } from './catalog.js';
import { inspectCapturedTable } from './captured-table.js';
import { functionName, triggerName } from './names.js';
import type { SlotDrop } from './slot-drop.js';
import { planWalInstall, planWalUninstall, type WalPlan } from './wal-plan.js';

const SCHEMA_SQL = readFileSync(packageFile('sql/schema.sql'), 'utf8');

const INSTALL_LOCK = "SELECT pg_advisory_xact_lock(hashtext('pgbridge'), hashtext('install'));";

import { InstallError } from './install-error.js';

export { InstallError };

export interface InstallPlan {
  /** The whole script, run in one transaction. */
  readonly sql: string;
  /** One line per change, for the log and the user. */
  readonly changes: readonly string[];
  /** The replication slots it drops (WalPlan.slotDrops). */
  readonly slotDrops: readonly SlotDrop[];
}

/** One trigger install makes (trigger modes): what `check` compares the installed one with. */
export interface PlannedCapture {
  readonly table: CaptureTable;
  readonly op: CaptureOp;
  readonly definition: CaptureOpDefinition;
}

export interface CaptureInstallPlan extends InstallPlan {
  readonly captures: readonly PlannedCapture[];
}

/**
 * What `install` runs: the shared schema, this instance's outbox, one trigger
 * per captured table and op, and the removal of triggers the config no longer
 * asks for. Reads the catalog (primary keys, existing triggers); writes nothing.
 */
export async function planInstall(config: BridgeConfig, db: pg.ClientBase): Promise<CaptureInstallPlan> {
  // Two pods running install at once would trip over each other's CREATE OR REPLACE.
  const parts = [INSTALL_LOCK, SCHEMA_SQL.trim(), outboxTableSql(config.instance)];
  const changes: string[] = [];
  const wanted = new Set<string>();
  const wantedFunctions = new Set<string>();
  const captures: PlannedCapture[] = [];

  for (const table of config.capture) {
    const { info, filter, changed } = await inspectCapturedTable(db, table);
    const name = qualifiedName(table);
    const ctx = {
      instance: config.instance,
      delivery: config.delivery,
      notifyChannel: config.notifyChannel,
      primaryKey: info.primaryKey,
      partitioned: info.kind === 'p',
      filter,
      changed,
    };
    for (const op of CAPTURE_OPS) {
      // wal mode captures from the slot: no triggers (those of an earlier mode are removed below).
      if (!table.ops.has(op) || config.delivery === 'wal') continue;
      const definition = captureOpDefinition(table, op, ctx);
      parts.push(captureOpSql(table, op, ctx, definition));
      captures.push({ table, op, definition });
      wanted.add(`${table.schema}\0${table.table}\0${triggerName(config.instance, op)}`);
      wantedFunctions.add(functionName(config.instance, table, op));
    }
    const byText = (changed ?? []).filter((c) => c.byText).map((c) => c.name);
    const filters = [
      table.where ? `, where ${table.where}` : '',
      table.changed ? `, changed ${table.changed.join(', ')}${byText.length > 0 ? ` (${byText.join(', ')} by text: no equality operator)` : ''}` : '',
    ].join('');
    changes.push(
      `capture ${name}: ${[...table.ops].join(', ')} (${config.delivery} mode${info.primaryKey.length ? `, key ${info.primaryKey.join(', ')}` : ', no primary key'}${filters})`,
    );
  }

  for (const t of await installedTriggers(db, config.instance)) {
    if (wanted.has(`${t.schema}\0${t.table}\0${t.trigger}`)) continue;
    parts.push(`DROP TRIGGER IF EXISTS ${ident(t.trigger)} ON ${ident(t.schema)}.${ident(t.table)};`);
    changes.push(`remove trigger ${t.trigger} from ${t.schema}.${t.table} (no longer captured)`);
  }
  for (const fn of await installedFunctions(db, config.instance)) {
    if (!wantedFunctions.has(fn)) parts.push(`DROP FUNCTION IF EXISTS pgbridge.${ident(fn)}() CASCADE;`);
  }
  const wal = await planWalInstall(config, db);
  parts.push(...wal.inside);
  changes.push(...wal.changes);
  return { sql: withWal(`BEGIN;\n\n${parts.join('\n\n')}\n\nCOMMIT;\n`, wal), changes, slotDrops: wal.slotDrops, captures };
}

/** Installs made before backfill existed have no pgbridge.backfills. */
async function hasBackfills(db: pg.ClientBase): Promise<boolean> {
  const { rows } = await db.query<{ ok: boolean }>("SELECT to_regclass('pgbridge.backfills') IS NOT NULL AS ok");
  return rows[0].ok;
}

/** What `uninstall` runs: this instance's triggers, functions and outbox; the schema too when no other instance uses it. */
export async function planUninstall(config: BridgeConfig, db: pg.ClientBase): Promise<InstallPlan> {
  const parts: string[] = [INSTALL_LOCK];
  const changes: string[] = [];
  const wal = await planWalUninstall(config, db);
  parts.push(...wal.inside);
  changes.push(...wal.changes);
  for (const t of await installedTriggers(db, config.instance)) {
    parts.push(`DROP TRIGGER IF EXISTS ${ident(t.trigger)} ON ${ident(t.schema)}.${ident(t.table)};`);
    changes.push(`remove trigger ${t.trigger} from ${t.schema}.${t.table}`);
  }
  for (const fn of await installedFunctions(db, config.instance)) {
    parts.push(`DROP FUNCTION IF EXISTS pgbridge.${ident(fn)}() CASCADE;`);
  }
  const table = outboxTable(config.instance);
  if ((await otherOutboxes(db, table)) === 0) {
    parts.push('DROP SCHEMA IF EXISTS pgbridge CASCADE;');
    changes.push('remove schema pgbridge');
  } else {
    parts.push(
      `DROP TABLE IF EXISTS ${table};`,
      `DELETE FROM pgbridge.dead_letters WHERE instance = '${config.instance}';`,
      ...((await hasBackfills(db)) ? [`DELETE FROM pgbridge.backfills WHERE instance = '${config.instance}';`] : []),
    );
    changes.push(`remove ${table}`);
  }
  return { sql: withWal(`BEGIN;\n\n${parts.join('\n')}\n\nCOMMIT;\n`, wal), changes, slotDrops: wal.slotDrops };
}

/** The slot statements around the transaction (see WalPlan). */
function withWal(transaction: string, wal: WalPlan): string {
  const before = wal.before.length > 0 ? `${wal.before.join('\n')}\n\n` : '';
  const after = wal.after.length > 0 ? `\n${wal.after.join('\n')}\n` : '';
  return `${before}${transaction}${after}`;
}
