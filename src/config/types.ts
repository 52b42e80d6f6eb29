import type { TableName } from './table-name.js';
import type { CaptureOp, DeliveryMode, RouteOp, RowCaptureOp } from './schema.js';
import type { CommonSinkConfig } from './sink-schema.js';

/** Column names per op; null = every column (so columns added later are captured too). */
export type ColumnSelection = Record<RowCaptureOp, readonly string[] | null>;

export interface CaptureTable extends TableName {
  readonly ops: ReadonlySet<CaptureOp>;
  readonly columns: ColumnSelection;
  /** SQL condition a row must meet to send an event (see schema/row-filter.ts); null = every row. */
  readonly where?: string | null;
  /** Update events only when one of these columns changed; null = every update. */
  readonly changed?: readonly string[] | null;
}

export type RouteSource =
  { readonly kind: 'table'; readonly table: TableName; readonly ops: ReadonlySet<RouteOp> } | { readonly kind: 'channel'; readonly channel: string };

export interface Route {
  readonly from: RouteSource;
  readonly to: readonly string[];
}

export type SinkConfig = CommonSinkConfig & Record<string, unknown>;

/** The validated config: everything the bridge needs, nothing left to check. */
export interface BridgeConfig {
  readonly file: string;
  readonly postgres: { readonly url: string | null };
  readonly delivery: DeliveryMode;
  readonly instance: string;
  readonly notifyChannel: string;
  readonly capture: readonly CaptureTable[];
  readonly channels: readonly string[];
  readonly sinks: readonly SinkConfig[];
  /** null: every event goes to every sink. */
  readonly routes: readonly Route[] | null;
  readonly outbox: { readonly batchSize: number; readonly pollIntervalMs: number };
  readonly wal: { readonly slot: string; readonly publication: string; readonly heartbeatIntervalMs: number; readonly statusIntervalMs: number };
  /** notify mode: events held in memory per sink before new ones wait in the outbox table. */
  readonly notify: { readonly memoryLimitEvents: number };
  /** token '' = no token: the console shows status only. */
  readonly http: { readonly port: number; readonly host: string; readonly token: string };
  readonly log: { readonly level: string; readonly pretty: boolean };
  readonly shutdownTimeoutMs: number;
  /** Values that must never be printed (passwords, signing secrets, auth headers). */
  readonly secrets: readonly string[];
}
