import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { CAPTURE_OPS } from '../config/schema.js';
import { qualifiedName, tableKey, type TableName } from '../config/table-name.js';
import { ident } from '../schema/quote.js';
import { triggerName } from './names.js';
import type { PlannedCapture } from './plan.js';
import { installedTriggers } from './catalog.js';
import { triggerDefinitions, type TriggerDefinition } from './trigger-definitions.js';

/** The trigger modes' capture as installed against what `install` would make now; each entry "schema.table op". */
export interface CaptureDrift {
  /** Captured by the config, no trigger yet. */
  readonly missing: readonly string[];
  /** A trigger that fires, or a function that writes, otherwise than install's would: another config, or an older pgbridge. */
  readonly differing: readonly string[];
  /** This instance's triggers on tables, or for ops, the config no longer captures. */
  readonly unconfigured: readonly string[];
}

const triggerKey = (t: TableName, trigger: string): string => `${tableKey(t)}\0${trigger}`;

export async function captureDrift(db: pg.ClientBase, instance: string, captures: readonly PlannedCapture[]): Promise<CaptureDrift> {
  const installed = await installedTriggers(db, instance);
  const byKey = new Map(installed.map((t) => [triggerKey(t, t.trigger), t]));
  const label = ({ table, op }: PlannedCapture): string => `${qualifiedName(table)} ${op}`;
  const missing: string[] = [];
  const stale = new Set<PlannedCapture>();
  const sameFunction: Array<[PlannedCapture, TriggerDefinition]> = [];
  for (const capture of captures) {
    const trigger = byKey.get(triggerKey(capture.table, triggerName(instance, capture.op)));
    if (!trigger) missing.push(label(capture));
    else if (callsPlannedFunction(trigger, capture)) sameFunction.push([capture, trigger]);
    else stale.add(capture);
  }
  const planned = await plannedShapes(
    db,
    instance,
    sameFunction.map(([capture]) => capture),
  );
  for (const [capture, trigger] of sameFunction) {
    if (planned.get(triggerKey(capture.table, trigger.trigger)) !== trigger.shape) stale.add(capture);
  }
  return {
    missing,
    differing: captures.filter((c) => stale.has(c)).map(label),
    unconfigured: unconfiguredTriggers(instance, installed, captures),
  };
}

/** prosrc is the body exactly as install gave it: any other text is another config's, or another version's. */
function callsPlannedFunction(trigger: TriggerDefinition, { definition }: PlannedCapture): boolean {
  return trigger.functionSchema === 'pgbridge' && trigger.functionName === definition.functionName && trigger.functionBody === definition.body;
}

/** "schema.table op" of the installed triggers no capture asks for, by table and then in CAPTURE_OPS' order. */
function unconfiguredTriggers(instance: string, installed: readonly TriggerDefinition[], captures: readonly PlannedCapture[]): string[] {
  const wanted = new Set(captures.map((c) => triggerKey(c.table, triggerName(instance, c.op))));
  const opOf = (t: TriggerDefinition): number => CAPTURE_OPS.findIndex((op) => triggerName(instance, op) === t.trigger);
  const tables = [...new Set(installed.map(tableKey))];
  const rank = (t: TriggerDefinition): number => tables.indexOf(tableKey(t)) * CAPTURE_OPS.length + opOf(t);
  return installed
    .filter((t) => !wanted.has(triggerKey(t, t.trigger)))
    .sort((a, b) => rank(a) - rank(b))
    .map((t) => `${qualifiedName(t)} ${CAPTURE_OPS[opOf(t)]}`);
}

/** How long a check waits to read a captured table's columns. */
const LOCK_WAIT = '2s';
const LOCK_NOT_AVAILABLE = '55P03';

/**
 * The shape of the trigger install would make for each capture, by key. Made
 * on an empty copy of each table, in a transaction rolled back: Postgres then
 * prints its WHEN as it prints the installed one's. Copying takes ACCESS SHARE
 * on the user's table, waited for at most LOCK_WAIT (a check must not hang
 * behind a session holding it exclusively). Each capture's function must
 * exist (it is the installed one).
 */
async function plannedShapes(db: pg.ClientBase, instance: string, captures: readonly PlannedCapture[]): Promise<Map<string, string>> {
  if (captures.length === 0) return new Map();
  const prefix = `pgbridge_probe_${randomBytes(6).toString('hex')}`;
  const copies = new Map<string, string>();
  const tableOfCopy = new Map<string, TableName>();
  await db.query('BEGIN');
  try {
    await db.query(`SET LOCAL lock_timeout = '${LOCK_WAIT}'`);
    for (const { table, op, definition } of captures) {
      let copy = copies.get(tableKey(table));
      if (copy === undefined) {
        copy = `${prefix}_${copies.size}`;
        copies.set(tableKey(table), copy);
        tableOfCopy.set(copy, table);
        await db.query(`CREATE TEMP TABLE ${copy} (LIKE ${ident(table.schema)}.${ident(table.table)})`).catch((err: unknown) => {
          if ((err as { code?: string }).code !== LOCK_NOT_AVAILABLE) throw err;
          throw new Error(`${qualifiedName(table)} is locked by another session (waited ${LOCK_WAIT})`);
        });
      }
      const fn = `pgbridge.${ident(definition.functionName)}`;
      await db.query(`CREATE TRIGGER ${ident(triggerName(instance, op))} ${definition.timingOn(`pg_temp.${copy}`)} EXECUTE FUNCTION ${fn}()`);
    }
    const made = await triggerDefinitions(db, 't.tgrelid = ANY($1::regclass[])', [[...copies.values()].map((c) => `pg_temp.${c}`)]);
    return new Map(made.map((t) => [triggerKey(tableOfCopy.get(t.table)!, t.trigger), t.shape]));
  } finally {
    await db.query('ROLLBACK').catch(() => {});
  }
}
