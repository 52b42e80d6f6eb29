import type { Schema } from 'convict';

export type DeliveryMode = 'outbox' | 'notify';
export type CaptureOp = 'insert' | 'update' | 'delete';
export const CAPTURE_OPS: readonly CaptureOp[] = ['insert', 'update', 'delete'];

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
    doc: 'outbox: durable, at-least-once (events stored in pgbridge.outbox until every sink has them). notify: in-memory, like skor.',
    format: ['outbox', 'notify'],
    default: 'outbox',
  },
  instance: {
    doc: 'Name of this bridge: its advisory lock, outbox table and trigger names. Give configs that split tables between bridges different names.',
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
    batch_size: { doc: 'Events read from the outbox per query.', format: 'positive-int', default: 500 },
    poll_interval_ms: {
      doc: 'Backstop poll when no wake-up NOTIFY arrives (a lost wake-up delays, never loses).',
      format: 'positive-int',
      default: 1000,
    },
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
}

export const captureSchema: Schema<CaptureItem> = {
  table: { doc: '"schema.table" or a bare table (schema public). Quote parts with dots: "My.Schema"."Tbl".', format: 'required-string', default: null as unknown as string },
  ops: {
    doc: 'Operations captured.',
    format: (value: unknown) => {
      if (!Array.isArray(value) || value.length === 0) throw new Error('must be a non-empty list of insert, update, delete');
      for (const op of value) {
        if (!CAPTURE_OPS.includes(op as CaptureOp)) throw new Error(`unknown op ${JSON.stringify(op)}; use insert, update, delete`);
      }
    },
    default: ['insert', 'update', 'delete'],
  },
};

export const channelSchema: Schema<{ name: string }> = {
  name: { doc: 'Channel to LISTEN on.', format: 'channel-name', default: null as unknown as string },
};

export interface RouteItem {
  from: { table: string | null; ops: CaptureOp[] | null; channel: string | null };
  to: string[];
}

export const routeSchema: Schema<RouteItem> = {
  from: {
    table: { doc: 'Captured table this route matches.', format: 'optional-string', default: null },
    ops: {
      doc: 'Operations this route matches (default: all).',
      format: (value: unknown) => {
        if (value === null) return;
        if (!Array.isArray(value) || value.length === 0) throw new Error('must be a non-empty list of insert, update, delete');
        for (const op of value) {
          if (!CAPTURE_OPS.includes(op as CaptureOp)) throw new Error(`unknown op ${JSON.stringify(op)}; use insert, update, delete`);
        }
      },
      default: null,
    },
    channel: { doc: 'Forwarded channel this route matches.', format: 'optional-string', default: null },
  },
  to: { doc: 'Names of the sinks that receive the matched events.', format: 'non-empty-string-list', default: [] },
};
