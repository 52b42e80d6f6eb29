import type { Schema } from 'convict';

export type DeliveryMode = 'outbox' | 'notify' | 'wal';
export type CaptureOp = 'insert' | 'update' | 'delete' | 'truncate';
/** Every op a capture trigger can take; the default `ops` leaves truncate out (existing consumers do not expect it). */
export const CAPTURE_OPS: readonly CaptureOp[] = ['insert', 'update', 'delete', 'truncate'];
export const DEFAULT_CAPTURE_OPS: readonly CaptureOp[] = ['insert', 'update', 'delete'];
/** Ops that carry a row, and so a column selection. */
export type RowCaptureOp = Exclude<CaptureOp, 'truncate'>;
export const ROW_CAPTURE_OPS: readonly RowCaptureOp[] = ['insert', 'update', 'delete'];
/** What a route can match: the captured ops and backfill's read. */
export type RouteOp = CaptureOp | 'read';
export const ROUTE_OPS: readonly RouteOp[] = [...CAPTURE_OPS, 'read'];

/** Top-level keys; the lists (capture, channels, sinks, routes) are checked item by item in load.ts. */
export interface RootConfig {
  postgres: { url: string | null };
  delivery: DeliveryMode;
  instance: string;
  notify_channel: string;
  /** null when written empty (`capture:` in YAML). */
  capture: unknown[] | null;
  channels: unknown[] | null;
  sinks: unknown[] | null;
  routes: unknown[] | null;
  outbox: { batch_size: number; poll_interval_ms: number };
  wal: { slot: string; publication: string; heartbeat_interval_ms: number; status_interval_ms: number };
  notify: { memory_limit_events: number };
  http: { port: number; host: string; token: string };
  log: { level: string; pretty: boolean };
  shutdown_timeout_ms: number;
}

const list = (doc: string, defaultValue: unknown[] | null = []) => ({
  doc,
  format: (value: unknown) => {
    if (value !== null && !Array.isArray(value)) throw new Error('must be a list');
  },
  default: defaultValue,
});

export const rootSchema: Schema<RootConfig> = {
  postgres: {
    url: {
      doc: 'Connection URL (postgres://user:pass@host:port/db?sslmode=…). Unset: libpq PG* variables.',
      format: 'postgres-url',
      default: null,
    },
  },
  delivery: {
    doc: 'outbox: durable, at-least-once (events stored in pgbridge.outbox until every sink has them). notify: in-memory, like skor. wal: logical replication (pgoutput), durable, no triggers.',
    format: ['outbox', 'notify', 'wal'],
    default: 'outbox',
  },
  instance: {
    doc: 'Name of this bridge: its advisory lock, outbox table and trigger names (and its slot and publication by default). Give configs that split tables between bridges different names: instances can share a database, each delivering only its own events and backfills.',
    format: (value: unknown) => {
      if (typeof value !== 'string' || !/^[a-z][a-z0-9_]{0,29}$/.test(value)) {
        throw new Error('must be lower-case letters, digits and _ (starting with a letter, at most 30)');
      }
    },
    default: 'default',
  },
  notify_channel: {
    doc: 'Channel the capture triggers NOTIFY on.',
    format: 'channel-name',
    default: 'pgbridge',
  },
  capture: list('Tables whose row changes are captured.'),
  channels: list('Raw NOTIFY channels forwarded as channel events.'),
  sinks: list('Where events go; at least one.'),
  routes: list('Which events go to which sinks. Without routes every event goes to every sink.', null),
  outbox: {
    // 1000 rather than 500: half the page queries; in alternated bench drains (medians of 9–12 runs)
    // AMQP +12%, MQTT +6%, NATS +5%, Redis +4%, Kafka +3%. A page never exceeds the sink's free room.
    batch_size: { doc: 'Events read from the outbox per query.', format: 'positive-int', default: 1000 },
    poll_interval_ms: {
      doc: 'Backstop poll when no wake-up NOTIFY arrives (a lost wake-up delays, never loses).',
      format: 'positive-int',
      default: 1000,
    },
  },
  wal: {
    slot: { doc: 'wal mode: logical replication slot (install creates it). Empty: pgbridge_<instance>.', format: 'wal-name', default: '' },
    publication: {
      doc: 'wal mode: publication of the captured tables (install creates it). Empty: pgbridge_<instance>.',
      format: 'wal-name',
      default: '',
    },
    heartbeat_interval_ms: {
      doc: 'wal mode: how often an idle slot is moved forward (a keepalive acknowledged, a heartbeat message written), so it holds back no WAL.',
      format: 'positive-int',
      default: 10000,
    },
    status_interval_ms: { doc: 'wal mode: longest time between two status updates to the server.', format: 'positive-int', default: 10000 },
  },
  notify: {
    memory_limit_events: {
      doc: 'notify mode: events waiting for one sink in memory at most; past it they wait in the outbox table until the sink caught up.',
      format: 'positive-int',
      default: 10000,
    },
  },
  http: {
    port: { doc: 'Port of the console (/), /metrics, /livez and /readyz; 0 turns the endpoint off.', format: 'port', default: 9187 },
    host: { doc: 'Address the HTTP endpoint listens on.', format: String, default: '0.0.0.0' },
    token: {
      doc: 'A secret: with it the console lists, retries and discards dead letters, and every endpoint but /livez and /readyz requires it (Authorization: Bearer, or the console session). Empty: status only.',
      format: String,
      default: '',
      sensitive: true,
    },
  },
  log: {
    level: {
      doc: 'Log level.',
      format: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
      default: 'info',
    },
    pretty: { doc: 'Human-readable logs instead of JSON lines.', format: Boolean, default: false },
  },
  shutdown_timeout_ms: {
    doc: 'On SIGTERM/SIGINT, how long in-flight deliveries may take before they are handed back.',
    format: 'positive-int',
    default: 10000,
  },
};

/** `columns` (a list or a per-op map) is checked by load.ts itself. */
export interface CaptureItem {
  table: string;
  ops: CaptureOp[];
  where: string | null;
  changed: string[] | null;
}

export const captureSchema: Schema<CaptureItem> = {
  table: {
    doc: '"schema.table" or a bare table (schema public). Quote parts with dots: "My.Schema"."Tbl".',
    format: 'required-string',
    default: null as unknown as string,
  },
  ops: {
    doc: 'Operations captured.',
    format: (value: unknown) => {
      if (!Array.isArray(value) || value.length === 0) throw new Error('must be a non-empty list of insert, update, delete, truncate');
      for (const op of value) {
        if (!CAPTURE_OPS.includes(op as CaptureOp)) throw new Error(`unknown op ${JSON.stringify(op)}; use insert, update, delete, truncate`);
      }
    },
    default: [...DEFAULT_CAPTURE_OPS],
  },
  where: {
    doc: "SQL condition over the table's columns (new row for insert/update, old row for delete); rows for which it is not true send no event.",
    format: (value: unknown) => {
      if (value !== null && (typeof value !== 'string' || value.trim() === '')) throw new Error('must be a non-empty SQL condition');
    },
    default: null,
  },
  changed: {
    doc: 'Update events only when one of these columns changed (IS DISTINCT FROM; by its text for a type without equality, such as json); an update changing none sends nothing.',
    format: (value: unknown) => {
      if (value === null) return;
      if (!Array.isArray(value) || value.length === 0 || !value.every((c) => typeof c === 'string' && c !== ''))
        throw new Error('must be a non-empty list of column names');
    },
    default: null,
  },
};

export const channelSchema: Schema<{ name: string }> = {
  name: { doc: 'Channel to LISTEN on.', format: 'channel-name', default: null as unknown as string },
};

export interface RouteItem {
  from: { table: string | null; ops: RouteOp[] | null; channel: string | null };
  to: string[];
}

export const routeSchema: Schema<RouteItem> = {
  from: {
    table: { doc: 'Captured table this route matches.', format: 'optional-string', default: null },
    ops: {
      doc: 'Operations this route matches (default: all, read and truncate included).',
      format: (value: unknown) => {
        if (value === null) return;
        if (!Array.isArray(value) || value.length === 0) throw new Error(`must be a non-empty list of ${ROUTE_OPS.join(', ')}`);
        for (const op of value) {
          if (!ROUTE_OPS.includes(op as RouteOp)) throw new Error(`unknown op ${JSON.stringify(op)}; use ${ROUTE_OPS.join(', ')}`);
        }
      },
      default: null,
    },
    channel: { doc: 'Forwarded channel this route matches.', format: 'optional-string', default: null },
  },
  to: { doc: 'Names of the sinks that receive the matched events.', format: 'non-empty-string-list', default: [] },
};
