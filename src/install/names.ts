import { createHash } from 'node:crypto';
import type { CaptureOp } from '../config/schema.js';
import type { TableName } from '../config/table-name.js';

/** Names of the trigger objects one bridge instance owns (its outbox: schema/outbox.ts). `instance` is [a-z][a-z0-9_]* (checked by the config). */
export const triggerPrefix = (instance: string): string => `pgbridge_${instance}_`;
export const triggerName = (instance: string, op: CaptureOp): string => `${triggerPrefix(instance)}${op}`;

export const functionPrefix = (instance: string): string => `capture_${instance}_`;

/** Stable per table, short enough for Postgres' 63-byte names whatever the table is called. */
export function functionName(instance: string, table: TableName, op: CaptureOp): string {
  const hash = createHash('sha256').update(`${table.schema}\0${table.table}`).digest('hex').slice(0, 12);
  return `${functionPrefix(instance)}${hash}_${op}`;
}
