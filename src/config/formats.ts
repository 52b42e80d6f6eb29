import convict from 'convict';

/**
 * Custom convict formats used by the schemas. A format throws with a short
 * message; the loader prefixes it with the file and the key path.
 */
export const describe = (value: unknown): string =>
  value === null ? 'null' : Array.isArray(value) ? 'a list' : typeof value === 'object' ? 'a map' : typeof value;

function requireString(value: unknown): asserts value is string {
  if (value === null || value === undefined || value === '') throw new Error('is required');
  if (typeof value !== 'string') throw new Error(`must be a string, got ${describe(value)}`);
}

function checkUrl(value: unknown, protocols: readonly string[]): void {
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

let registered = false;

export function registerFormats(): void {
  if (registered) return;
  registered = true;
  convict.addFormats({
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
    // Slot names allow only lower-case letters, digits and _ (Postgres' rule), at most 63 bytes.
    'wal-name': {
      validate(value: unknown) {
        if (typeof value !== 'string' || !/^[a-z0-9_]{0,63}$/.test(value)) throw new Error('must be lower-case letters, digits and _ (at most 63)');
      },
    },
    'http-url': { validate: (value: unknown) => checkUrl(value, ['http:', 'https:']) },
    'amqp-url': { validate: (value: unknown) => checkUrl(value, ['amqp:', 'amqps:']) },
    'postgres-url': {
      validate(value: unknown) {
        if (value === null || value === '') return; // libpq PG* variables apply
        checkUrl(value, ['postgres:', 'postgresql:']);
      },
    },
    'string-map': {
      validate(value: unknown) {
        if (typeof value !== 'object' || value === null || Array.isArray(value)) {
          throw new Error(`must be a map of names to strings, got ${describe(value)}`);
        }
        for (const [key, item] of Object.entries(value)) {
          if (typeof item !== 'string') throw new Error(`.${key} must be a string, got ${describe(item)}`);
        }
      },
    },
    'string-list': {
      validate(value: unknown) {
        if (!Array.isArray(value)) throw new Error(`must be a list of strings, got ${describe(value)}`);
        value.forEach((item, i) => {
          if (typeof item !== 'string' || item === '') throw new Error(`[${i}] must be a non-empty string`);
        });
      },
    },
    'non-empty-string-list': {
      validate(value: unknown) {
        if (!Array.isArray(value) || value.length === 0) throw new Error(`must be a non-empty list of strings`);
        value.forEach((item, i) => {
          if (typeof item !== 'string' || item === '') throw new Error(`[${i}] must be a non-empty string`);
        });
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
  });
}
