import convict from 'convict';
import { sslModeProblem } from '../postgres-ssl.js';

/**
 * Custom convict formats used by the schemas. A format throws with a short
 * message; the loader prefixes it with the file and the key path. A sink type
 * brings its own formats (its URL scheme) in its descriptor.
 */
export const describe = (value: unknown): string =>
  value === null ? 'null' : Array.isArray(value) ? 'a list' : typeof value === 'object' ? 'a map' : typeof value;

/**
 * A format's problem with one entry of a map or list: the loader names the
 * entry in the key path (`headers.X-Key: must be a string`), as for any key.
 */
export class EntryProblem extends Error {
  /** The entry's path below the key: `.X-Key` or `[1]`. */
  readonly entry: string;
  constructor(entry: string, message: string) {
    super(message);
    this.entry = entry;
  }
}

export function requireString(value: unknown): asserts value is string {
  if (value === null || value === undefined || value === '') throw new Error('is required');
  if (typeof value !== 'string') throw new Error(`must be a string, got ${describe(value)}`);
}

export function checkUrl(value: unknown, protocols: readonly string[]): void {
  requireString(value);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`is not a valid URL`);
  }
  if (!protocols.includes(url.protocol)) {
    throw new Error(`must use ${protocols.map((p) => p.replace(':', '://')).join(' or ')}, got ${url.protocol.replace(':', '://')}`);
  }
}

export type ConfigFormat = { validate(value: unknown): void };

/** A required URL with one of `protocols` (e.g. ['amqp:', 'amqps:']). */
export const urlFormat = (protocols: readonly string[]): ConfigFormat => ({ validate: (value: unknown) => checkUrl(value, protocols) });

/** Formats every schema may use; sink descriptors add theirs. */
export const COMMON_FORMATS: Readonly<Record<string, ConfigFormat>> = {
  'required-string': { validate: requireString },
  'optional-string': {
    validate(value: unknown) {
      if (value !== null && typeof value !== 'string') throw new Error(`must be a string, got ${describe(value)}`);
    },
  },
  // Postgres truncates longer identifiers, so LISTEN and pg_notify would name different channels.
  'channel-name': {
    validate(value: unknown) {
      requireString(value);
      if (Buffer.byteLength(value) > 63) throw new Error(`must be a channel name of at most 63 bytes, got ${Buffer.byteLength(value)}`);
    },
  },
  // Slot and publication names: lower-case letters, digits and _ (Postgres' rule for slots), at most 63 bytes.
  'wal-name': {
    validate(value: unknown) {
      if (typeof value !== 'string' || !/^[a-z0-9_]{0,63}$/.test(value)) throw new Error('must be lower-case letters, digits and _ (at most 63)');
    },
  },
  'postgres-url': {
    validate(value: unknown) {
      if (value === null || value === '') return; // libpq PG* variables apply
      checkUrl(value, ['postgres:', 'postgresql:']);
      const mode = new URL(value as string).searchParams.get('sslmode');
      const problem = mode === null ? undefined : sslModeProblem(mode);
      if (problem) throw new Error(problem);
    },
  },
  'string-map': {
    validate(value: unknown) {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        throw new Error(`must be a map of names to strings, got ${describe(value)}`);
      }
      for (const [key, item] of Object.entries(value)) {
        if (typeof item !== 'string') throw new EntryProblem(`.${key}`, `must be a string, got ${describe(item)}`);
      }
    },
  },
  'string-list': {
    validate(value: unknown) {
      if (!Array.isArray(value)) throw new Error(`must be a list of strings, got ${describe(value)}`);
      value.forEach((item, i) => {
        if (typeof item !== 'string' || item === '') throw new EntryProblem(`[${i}]`, 'must be a non-empty string');
      });
    },
  },
  'non-empty-string-list': {
    validate(value: unknown) {
      if (!Array.isArray(value) || value.length === 0) throw new Error(`must be a non-empty list of strings`);
      value.forEach((item, i) => {
        if (typeof item !== 'string' || item === '') throw new EntryProblem(`[${i}]`, 'must be a non-empty string');
      });
    },
  },
  'optional-positive-int': {
    validate(value: unknown) {
      if (value !== null && (typeof value !== 'number' || !Number.isInteger(value) || value < 1)) {
        throw new Error(`must be a whole number of at least 1, got ${JSON.stringify(value)}`);
      }
    },
  },
  'positive-int': {
    validate(value: unknown) {
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
        throw new Error(`must be a whole number of at least 1, got ${JSON.stringify(value)}`);
      }
    },
  },
  'non-negative-int': {
    validate(value: unknown) {
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
        throw new Error(`must be a whole number of at least 0, got ${JSON.stringify(value)}`);
      }
    },
  },
  'any-object': {
    validate(value: unknown) {
      if (value !== null && (typeof value !== 'object' || Array.isArray(value))) {
        throw new Error(`must be a map, got ${describe(value)}`);
      }
    },
  },
};

/** True when `format` refuses an unset value: a key with it and no default must be given. */
export function refusesUnset(format: ConfigFormat | undefined): boolean {
  if (format === undefined) return false;
  try {
    format.validate(null);
    return false;
  } catch {
    return true;
  }
}

const registered = new Set<string>();

/** Makes `formats` known to convict (once per name). */
export function registerFormats(formats: Readonly<Record<string, ConfigFormat>>): void {
  const fresh = Object.entries(formats).filter(([name]) => !registered.has(name));
  if (fresh.length === 0) return;
  for (const [name] of fresh) registered.add(name);
  convict.addFormats(Object.fromEntries(fresh));
}
