import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import convict, { type Schema } from 'convict';
import { ConfigError } from '../errors.js';
import { sinkFormats, sinkTypes } from '../sinks/registry.js';
import { substituteEnv } from './env.js';
import { typeEnvValues } from './env-types.js';
import { sslModeProblem } from '../postgres-ssl.js';
import { COMMON_FORMATS, EntryProblem, describe, registerFormats, type ConfigFormat } from './formats.js';
import { parseJsonConfig } from './parse-json.js';
import { parseYamlConfig } from './parse-yaml.js';
import {
  ROUTE_OPS,
  ROW_CAPTURE_OPS,
  captureSchema,
  channelSchema,
  rootSchema,
  routeSchema,
  type CaptureItem,
  type RowCaptureOp,
  type RootConfig,
  type RouteItem,
} from './schema.js';
import { parseTableName, qualifiedName, tableKey } from './table-name.js';
import type { BridgeConfig, CaptureTable, ColumnSelection, Route, SinkConfig } from './types.js';
import { postgresSecrets } from './secrets.js';
import { resolveBatchAlias, sinkSchema, type CommonSinkConfig } from './sink-schema.js';

export interface Problem {
  path: string;
  message: string;
}

/** -c FILE, else $PGBRIDGE_CONFIG, else ./pgbridge.yaml, else config/pgbridge.yaml. */
export function resolveConfigPath(explicit: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (explicit) return explicit;
  if (env.PGBRIDGE_CONFIG) return env.PGBRIDGE_CONFIG;
  if (existsSync('pgbridge.yaml')) return 'pgbridge.yaml';
  return path.join('config', 'pgbridge.yaml');
}

export function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): BridgeConfig {
  const raw = parseFile(file);
  const problems: Problem[] = [];
  const { value: substituted, wholeReferences } = substituteEnv(raw, env, problems);
  if (problems.length > 0) throw new ConfigError(file, problems);
  const config = validate(substituted, problems, wholeReferences);
  const envMode = env.PGSSLMODE ? sslModeProblem(env.PGSSLMODE) : undefined;
  if (config !== undefined && !config.postgres.url && envMode) problems.push({ path: 'PGSSLMODE (environment)', message: envMode });
  if (problems.length > 0 || config === undefined) throw new ConfigError(file, problems);
  return { ...config, file };
}

function parseFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(file, [{ path: '', message: code === 'ENOENT' ? 'file not found' : `cannot read: ${code}` }]);
  }
  return path.extname(file).toLowerCase() === '.json' ? parseJsonConfig(file, text) : parseYamlConfig(file, text);
}

/**
 * Runs one convict schema over one object; problems get `prefix` in front of
 * their key path. `wholeReferences`: the key paths whose value was one whole ${NAME}.
 */
function check<T>(schema: Schema<T>, value: unknown, prefix: string, problems: Problem[], wholeReferences: ReadonlySet<string>): T | undefined {
  registerFormats(COMMON_FORMATS);
  registerFormats(sinkFormats());
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    problems.push({ path: prefix, message: `must be a map, got ${Array.isArray(value) ? 'a list' : JSON.stringify(value)}` });
    return undefined;
  }
  const typed = typeEnvValues(schema, value as Record<string, unknown>, prefix, wholeReferences, knownFormats());
  const before = problems.length;
  typeProblems(schema, typed, prefix, problems);
  if (problems.length > before) return undefined;
  const instance = convict<T>(schema, { args: [], env: {} });
  try {
    instance.load(typed);
    instance.validate({ allowed: 'strict' });
  } catch (err) {
    for (const line of (err as Error).message.split('\n')) problems.push(convictProblem(line, prefix));
    return undefined;
  }
  return instance.getProperties();
}

/**
 * Wrong types convict would bend rather than refuse: it JSON.parses a string
 * given for a list (and throws a bare SyntaxError), parseInt()s one given for a
 * port, reads "yes" as true, and lets a scalar replace a whole section. A
 * config file has real types, so each of these is reported at its key path.
 */
function typeProblems(schema: Record<string, unknown>, value: Record<string, unknown>, prefix: string, problems: Problem[]): void {
  for (const [key, node] of Object.entries(schema)) {
    const item = value[key];
    if (item === undefined || node === null || typeof node !== 'object') continue;
    const at = prefix ? `${prefix}.${key}` : key;
    const spec = node as { default?: unknown; format?: unknown };
    if (!('default' in spec)) {
      if (item === null || typeof item !== 'object' || Array.isArray(item))
        problems.push({ path: at, message: `must be a map, got ${describe(item)}` });
      else typeProblems(node as Record<string, unknown>, item as Record<string, unknown>, at, problems);
    } else if (Array.isArray(spec.default) && item !== null && !Array.isArray(item)) {
      problems.push({ path: at, message: `must be a list, got ${describe(item)}` });
    } else if ((spec.format === Boolean || typeof spec.default === 'boolean') && typeof item !== 'boolean') {
      problems.push({ path: at, message: `must be true or false, got ${describe(item)}` });
    } else if (spec.format === 'port' && typeof item !== 'number') {
      problems.push({ path: at, message: `must be a port number, got ${describe(item)}` });
    } else if (item !== null && typeof item === 'object') {
      entryProblems(spec.format, item, at, problems);
    }
  }
}

/**
 * A list or a map given for a key that is one value (a list, a map of strings,
 * TLS options). The key's own format decides first, here rather than in
 * convict, so that a problem with one entry is reported at that entry's path.
 * Then no value inside a map may be a map: convict would descend into it and
 * fail there with a bare TypeError ("Cannot read properties of undefined").
 */
function entryProblems(format: unknown, item: object, at: string, problems: Problem[]): void {
  const named = typeof format === 'string' ? knownFormats()[format] : undefined;
  try {
    if (typeof format === 'function') (format as (value: unknown) => void)(item);
    else named?.validate(item);
  } catch (err) {
    problems.push({ path: err instanceof EntryProblem ? `${at}${err.entry}` : at, message: (err as Error).message });
    return;
  }
  if (Array.isArray(item)) return;
  const nested = Object.entries(item).find(([, value]) => value !== null && typeof value === 'object' && !Array.isArray(value));
  if (nested) problems.push({ path: `${at}.${nested[0]}`, message: 'must be a string, a number, true or false, or a list; got a map' });
}

const knownFormats = (): Readonly<Record<string, ConfigFormat>> => ({ ...COMMON_FORMATS, ...sinkFormats() });

function convictProblem(line: string, prefix: string): Problem {
  const join = (key: string) => (prefix ? `${prefix}.${key}` : key);
  const unknown = /^configuration param '(.+)' not declared in the schema$/.exec(line);
  if (unknown) return { path: join(unknown[1]), message: 'unknown key' };
  const colon = line.indexOf(': ');
  if (colon === -1) return { path: prefix, message: line };
  // Drop convict's "value was …": the value may be a secret.
  const message = line.slice(colon + 2).replace(/: value was [\s\S]*$/, '');
  return { path: join(line.slice(0, colon)), message };
}

function validate(input: unknown, problems: Problem[], wholeReferences: ReadonlySet<string>): Omit<BridgeConfig, 'file'> | undefined {
  const root = check<RootConfig>(rootSchema, input, '', problems, wholeReferences);
  if (!root) return undefined;

  // `capture:` with every item commented out is null in YAML: an empty list.
  const rawCapture = root.capture ?? [];
  const rawChannels = root.channels ?? [];
  const capture = rawCapture.flatMap((item, i) => captureTable(item, `capture[${i}]`, problems, wholeReferences));
  const channels = rawChannels.flatMap((item, i) => check(channelSchema, item, `channels[${i}]`, problems, wholeReferences)?.name ?? []);
  const sinks = checkSinks(root.sinks ?? [], problems, wholeReferences);
  const routes = root.routes === null ? null : root.routes.flatMap((item, i) => route(item, `routes[${i}]`, problems, wholeReferences));

  const seenTables = new Set<string>();
  capture.forEach((t, i) => {
    if (seenTables.has(tableKey(t))) problems.push({ path: `capture[${i}].table`, message: `${qualifiedName(t)} is captured twice` });
    seenTables.add(tableKey(t));
  });
  // Only when both lists are empty: a broken item is reported on its own, not again as "nothing to bridge".
  if (rawCapture.length === 0 && rawChannels.length === 0) {
    problems.push({ path: 'capture', message: 'nothing to bridge: list at least one table in capture or one channel in channels' });
  }
  if (routes) checkRoutes(routes, capture, channels, sinks, problems);

  return {
    postgres: { url: root.postgres.url || null },
    delivery: root.delivery,
    instance: root.instance,
    notifyChannel: root.notify_channel,
    capture,
    channels,
    sinks,
    routes,
    outbox: { batchSize: root.outbox.batch_size, pollIntervalMs: root.outbox.poll_interval_ms },
    wal: {
      slot: root.wal.slot || `pgbridge_${root.instance}`,
      publication: root.wal.publication || `pgbridge_${root.instance}`,
      heartbeatIntervalMs: root.wal.heartbeat_interval_ms,
      statusIntervalMs: root.wal.status_interval_ms,
    },
    notify: { memoryLimitEvents: root.notify.memory_limit_events },
    http: root.http,
    log: root.log,
    shutdownTimeoutMs: root.shutdown_timeout_ms,
    secrets: [...postgresSecrets(root.postgres.url), ...sinks.flatMap((s) => sinkSecrets(s)), ...(root.http.token ? [root.http.token] : [])],
  };
}

function captureTable(item: unknown, at: string, problems: Problem[], wholeReferences: ReadonlySet<string>): CaptureTable[] {
  const normalized = typeof item === 'string' ? { table: item } : item;
  // `columns` is a list or a per-op map: checked here, since convict only knows one shape per key.
  const { columns: rawColumns = '*', ...rest } = (normalized ?? {}) as { columns?: unknown };
  const checked = check<CaptureItem>(
    captureSchema,
    normalized === null || typeof normalized !== 'object' ? normalized : rest,
    at,
    problems,
    wholeReferences,
  );
  if (!checked) return [];
  let name;
  try {
    name = parseTableName(checked.table);
  } catch (err) {
    problems.push({ path: `${at}.table`, message: (err as Error).message });
    return [];
  }
  const columns = columnSelection(rawColumns, `${at}.columns`, problems);
  if (checked.changed !== null && !checked.ops.includes('update')) {
    problems.push({ path: `${at}.changed`, message: 'applies to update events, and ops does not include update' });
    return [];
  }
  return columns ? [{ ...name, ops: new Set(checked.ops), columns, where: checked.where, changed: checked.changed }] : [];
}

function columnSelection(value: unknown, at: string, problems: Problem[]): ColumnSelection | undefined {
  const one = (v: unknown, where: string): readonly string[] | null | undefined => {
    if (v === '*' || v === undefined || v === null) return null;
    if (Array.isArray(v) && v.length > 0 && v.every((c) => typeof c === 'string' && c !== '')) {
      // A column listed twice would be a key given twice in every event's data and old.
      const twice = v.find((c, i) => v.indexOf(c) !== i) as string | undefined;
      if (twice === undefined) return v as string[];
      problems.push({ path: where, message: `lists column ${JSON.stringify(twice)} twice` });
      return undefined;
    }
    problems.push({ path: where, message: 'must be "*" or a non-empty list of column names' });
    return undefined;
  };
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const perOp = value as Record<string, unknown>;
    const unknownOps = Object.keys(perOp).filter((k) => !ROW_CAPTURE_OPS.includes(k as RowCaptureOp));
    if (unknownOps.length > 0) {
      problems.push({ path: `${at}.${unknownOps[0]}`, message: 'unknown key; use insert, update, delete' });
      return undefined;
    }
    const [insert, update, del] = ROW_CAPTURE_OPS.map((op) => one(perOp[op], `${at}.${op}`));
    if (insert === undefined || update === undefined || del === undefined) return undefined;
    return { insert, update, delete: del };
  }
  const all = one(value, at);
  return all === undefined ? undefined : { insert: all, update: all, delete: all };
}

function checkSinks(items: unknown[], problems: Problem[], wholeReferences: ReadonlySet<string>): SinkConfig[] {
  if (items.length === 0) {
    problems.push({ path: 'sinks', message: 'at least one sink is required' });
    return [];
  }
  const names = new Set<string>();
  return items.flatMap((item, i) => {
    const at = `sinks[${i}]`;
    const sink = sinkKeys(item, at, problems, wholeReferences);
    if (!sink) return [];
    if (!/^[A-Za-z0-9_.-]+$/.test(sink.name)) {
      problems.push({ path: `${at}.name`, message: 'may hold only letters, digits, _ . -' });
    } else if (names.has(sink.name)) {
      problems.push({ path: `${at}.name`, message: `duplicate sink name ${JSON.stringify(sink.name)}` });
    }
    names.add(sink.name);
    for (const p of sinkTypes.get(sink.type)?.check?.(sink) ?? []) problems.push({ path: `${at}.${p.path}`, message: p.message });
    return [sink];
  });
}

/**
 * One sink item through its type's schema: defaults filled in, types and
 * formats checked, the max_batch alias resolved. The type's own check() is the
 * caller's next step.
 */
export function sinkKeys(item: unknown, at: string, problems: Problem[], wholeReferences: ReadonlySet<string> = new Set()): SinkConfig | undefined {
  const type = item !== null && typeof item === 'object' ? (item as { type?: unknown }).type : undefined;
  const descriptor = typeof type === 'string' ? sinkTypes.get(type) : undefined;
  if (!descriptor) {
    const known = [...sinkTypes.keys()].join(', ');
    problems.push({
      path: `${at}.type`,
      message: type === undefined ? `is required (${known})` : `unknown sink type ${JSON.stringify(type)}; use ${known}`,
    });
    return undefined;
  }
  const sink = check<SinkConfig>(sinkSchema(descriptor), item, at, problems, wholeReferences);
  if (!sink) return undefined;
  const before = problems.length;
  for (const p of resolveBatchAlias(item as Record<string, unknown>, sink)) problems.push({ path: `${at}.${p.path}`, message: p.message });
  return problems.length > before ? undefined : sink;
}

function sinkSecrets(sink: SinkConfig): string[] {
  return (sinkTypes.get(sink.type)?.secrets?.(sink) ?? []).filter((s) => s.length > 0);
}

function route(item: unknown, at: string, problems: Problem[], wholeReferences: ReadonlySet<string>): Route[] {
  const checked = check<RouteItem>(routeSchema, item, at, problems, wholeReferences);
  if (!checked) return [];
  const { table, ops, channel } = checked.from;
  if ((table === null) === (channel === null)) {
    problems.push({ path: `${at}.from`, message: 'give either table (with optional ops) or channel' });
    return [];
  }
  if (channel !== null) {
    if (ops !== null) problems.push({ path: `${at}.from.ops`, message: 'ops apply to tables, not channels' });
    return [{ from: { kind: 'channel', channel }, to: checked.to }];
  }
  try {
    const name = parseTableName(table as string);
    return [{ from: { kind: 'table', table: name, ops: new Set(ops ?? ROUTE_OPS) }, to: checked.to }];
  } catch (err) {
    problems.push({ path: `${at}.from.table`, message: (err as Error).message });
    return [];
  }
}

function checkRoutes(
  routes: readonly Route[],
  capture: readonly CaptureTable[],
  channels: readonly string[],
  sinks: readonly CommonSinkConfig[],
  problems: Problem[],
): void {
  const sinkNames = new Set(sinks.map((s) => s.name));
  const captured = new Set(capture.map(tableKey));
  routes.forEach((r, i) => {
    r.to.forEach((name, j) => {
      if (!sinkNames.has(name)) problems.push({ path: `routes[${i}].to[${j}]`, message: `no sink named ${JSON.stringify(name)}` });
    });
    if (r.from.kind === 'table' && !captured.has(tableKey(r.from.table))) {
      problems.push({ path: `routes[${i}].from.table`, message: `${qualifiedName(r.from.table)} is not in capture` });
    }
    if (r.from.kind === 'channel' && !channels.includes(r.from.channel)) {
      problems.push({ path: `routes[${i}].from.channel`, message: `${r.from.channel} is not in channels` });
    }
  });
}
