import type { Schema } from 'convict';
import type { FormatName } from '../formats/index.js';

/** A key path relative to the sink (e.g. "url") and what is wrong with it. */
export interface ConfigProblem {
  readonly path: string;
  readonly message: string;
}

export interface RetryConfig {
  initial_ms: number;
  max_ms: number;
  /** 0 = retry forever. */
  max_attempts: number;
}

export interface BatchConfig {
  /** Most events one send carries. */
  max_events: number;
  /** How long a partial batch may wait for more events. */
  max_wait_ms: number;
}

/** Keys every sink takes, whatever its type, as the loader hands them on. */
export interface CommonSinkConfig {
  name: string;
  type: string;
  format: FormatName;
  batch: BatchConfig;
  /** The older name of batch.max_events; once loaded always equal to it. */
  max_batch: number;
  max_in_flight: number;
  retry: RetryConfig;
}

/** What a sink type sets for the common batching and concurrency keys. */
export interface SinkDefaults {
  readonly batch: Readonly<BatchConfig>;
  readonly max_in_flight: number;
}

/** The common keys whose meaning a sink type may spell out for itself (the reference shows its text). */
export type TunableKey = 'batch.max_events' | 'batch.max_wait_ms' | 'max_in_flight';

const TUNABLE_DOCS: Readonly<Record<TunableKey, string>> = {
  'batch.max_events': 'Most events one send carries.',
  'batch.max_wait_ms': 'How long a partial batch waits for more events.',
  max_in_flight: 'Concurrent sends; events of one row never overtake each other.',
};

/** The keys of every sink type; `defaults` and `docs` are the type's own. */
export function commonSinkSchema(defaults: SinkDefaults, docs: Partial<Record<TunableKey, string>> = {}) {
  const doc = (key: TunableKey): string => docs[key] ?? TUNABLE_DOCS[key];
  return {
    name: { doc: 'Unique sink name (letters, digits, _ . -), used in routes, metrics and dead letters.', format: 'required-string', default: null },
    type: { doc: 'The sink type (one of the tables below).', format: 'required-string', default: null },
    format: { doc: 'Event format: pgbridge, skor or cloudevents.', format: ['pgbridge', 'skor', 'cloudevents'], default: 'pgbridge' },
    batch: {
      max_events: { doc: doc('batch.max_events'), format: 'positive-int', default: defaults.batch.max_events },
      max_wait_ms: { doc: doc('batch.max_wait_ms'), format: 'non-negative-int', default: defaults.batch.max_wait_ms },
    },
    max_batch: { doc: 'Alias of batch.max_events (its older name); give one of the two.', format: 'optional-positive-int', default: null },
    max_in_flight: { doc: doc('max_in_flight'), format: 'positive-int', default: defaults.max_in_flight },
    retry: {
      initial_ms: { doc: 'First retry delay (exponential backoff with full jitter).', format: 'positive-int', default: 200 },
      max_ms: { doc: 'Longest delay between retries.', format: 'positive-int', default: 30000 },
      max_attempts: { doc: 'Attempts before the event goes to the dead letters; 0 = retry forever.', format: 'non-negative-int', default: 0 },
    },
  } as const;
}

/** The common keys of one sink type merged with its own. */
export function sinkSchema<C extends object>(type: {
  readonly type: string;
  readonly schema: Schema<C>;
  readonly defaults: SinkDefaults;
  readonly docs?: Partial<Record<TunableKey, string>>;
}): Schema<C & CommonSinkConfig> {
  const common = commonSinkSchema(type.defaults, type.docs);
  // A type changes a common key through `defaults` and `docs`, never by declaring it again.
  const clash = Object.keys(type.schema).find((key) => key in common);
  if (clash !== undefined) throw new Error(`sink type ${type.type} declares the common key ${clash}; set it through its defaults`);
  return { ...common, ...type.schema } as unknown as Schema<C & CommonSinkConfig>;
}

/**
 * `max_batch` is an alias: written alone it sets batch.max_events; written
 * with batch.max_events it must say the same. Afterwards both hold the value.
 */
export function resolveBatchAlias(raw: Record<string, unknown>, config: CommonSinkConfig): ConfigProblem[] {
  // From the loaded config, not `raw`: a `${MAX_BATCH}` there is still a string.
  const alias: unknown = config.max_batch;
  const batch = raw.batch;
  const explicit = batch !== null && typeof batch === 'object' && (batch as Record<string, unknown>).max_events !== undefined;
  if (typeof alias === 'number') {
    if (explicit && config.batch.max_events !== alias) {
      return [{ path: 'max_batch', message: `is an alias of batch.max_events, which says ${config.batch.max_events}: give one of the two` }];
    }
    config.batch = { ...config.batch, max_events: alias };
  }
  config.max_batch = config.batch.max_events;
  return [];
}
