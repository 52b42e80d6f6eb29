import type { Schema } from 'convict';
import { checkTemplate } from '../../template.js';
import type { ConfigProblem } from '../module.js';
import type { CommonSinkConfig } from '../sink.js';

/** The keys of a `redis` sink; the common ones (name, format, retry, …) are merged in by the loader. */
export interface RedisConfig {
  url: string;
  stream: string;
  maxlen: number | null;
  tls: Record<string, unknown> | null;
  max_in_flight: number;
  max_batch: number;
  timeout_ms: number;
  connect_timeout_ms: number;
}

export type RedisSinkConfig = RedisConfig & CommonSinkConfig;

export const redisSchema: Schema<RedisConfig> = {
  url: {
    doc: 'Server URL, redis://[user:password@]host:6379[/db] or rediss://… for TLS. Put the password in from the environment (${REDIS_PASSWORD}), percent-encoded.',
    format: (value: unknown) => {
      if (typeof value !== 'string' || value === '') throw new Error('is required');
      let url: URL;
      try {
        url = new URL(value);
      } catch {
        throw new Error('is not a valid URL');
      }
      if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') throw new Error(`must use redis:// or rediss://, got ${url.protocol.replace(':', '://')}`);
      if (!/^\/?(\d+)?$/.test(url.pathname)) throw new Error(`path must be a database number (/0), got ${url.pathname}`);
    },
    default: null as unknown as string,
    sensitive: true,
  },
  stream: {
    doc: 'Stream key template: {schema}, {table}, {op} (insert|update|delete), {channel}. A channel event goes to the stream named after its channel under a template with {schema}, {table} or {op} but no {channel}; a fixed template (no placeholder) applies to it as written.',
    format: 'required-string',
    default: 'pgbridge:{schema}.{table}',
  },
  maxlen: {
    doc: 'Trim each stream to about this many entries on every XADD (MAXLEN ~ n: Redis trims whole nodes, so a stream may hold somewhat more). Unset: never trimmed.',
    format: (value: unknown) => {
      if (value !== null && (!Number.isInteger(value) || (value as number) < 1)) throw new Error('must be a positive integer, or left out for no trimming');
    },
    default: null,
  },
  tls: {
    doc: 'TLS options for rediss:// passed as they are to Node tls.connect (ca, cert, key as PEM text, rejectUnauthorized, servername). Unset: the system CAs.',
    format: (value: unknown) => {
      if (value !== null && (typeof value !== 'object' || Array.isArray(value))) throw new Error('must be a map of TLS options');
    },
    default: null,
  },
  max_in_flight: {
    // Each lane sends its own transaction: with several lanes an outbox page of 500 becomes
    // several small MULTIs, while one MULTI of 500 is already a single round trip.
    doc: 'Transactions (MULTI … EXEC) pipelined on the one connection at once; events of one row never overtake each other. 1 (one transaction of a whole page at a time) drained a backlog faster than 2, 4 or 8 in the bench.',
    format: 'positive-int',
    default: 1,
  },
  max_batch: {
    doc: 'Most events in one MULTI … EXEC (one XADD each).',
    format: 'positive-int',
    default: 500,
  },
  timeout_ms: {
    doc: 'How long a batch may wait for the replies; past it the connection is closed and the batch sent again on a new one.',
    format: 'positive-int',
    default: 10000,
  },
  connect_timeout_ms: {
    doc: 'How long connecting (TCP, TLS and authentication) may take.',
    format: 'positive-int',
    default: 10000,
  },
};

export function checkRedisConfig(config: RedisSinkConfig): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const template = checkTemplate(config.stream);
  if (template !== undefined) problems.push({ path: 'stream', message: template });
  if (config.tls !== null && config.url.startsWith('redis://')) problems.push({ path: 'tls', message: 'is set but the url is redis:// (plain TCP); use rediss://' });
  return problems;
}

/** The URL password, raw and percent-decoded, so neither form can leak into a log line. */
export function redisSecrets(config: RedisSinkConfig): string[] {
  let password: string;
  try {
    password = new URL(config.url).password;
  } catch {
    return [];
  }
  if (password === '') return [];
  try {
    const decoded = decodeURIComponent(password);
    return decoded === password ? [password] : [password, decoded];
  } catch {
    return [password]; // a malformed escape stays as written
  }
}

/** The URL for messages: scheme, host, port and database, never the credentials. */
export function describeRedisUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname.length > 1 ? parsed.pathname : ''}`;
  } catch {
    return '(invalid url)';
  }
}
