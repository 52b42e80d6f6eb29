import { urlPassword } from '../../config/secrets.js';
import { assertTlsOptions, tlsSecrets } from '../tls-options.js';
import type { Schema } from 'convict';
import type { CommonSinkConfig, ConfigProblem } from '../../config/sink-schema.js';
import { checkTemplate } from '../../template.js';

/** The keys of a `redis` sink; the common ones (name, format, batch, max_in_flight, retry) are added by the loader. */
export interface RedisConfig {
  url: string;
  stream: string;
  maxlen: number | null;
  tls: Record<string, unknown> | null;
  timeout_ms: number;
  connect_timeout_ms: number;
}

export type RedisSinkConfig = RedisConfig & CommonSinkConfig;

export const redisSchema: Schema<RedisConfig> = {
  url: {
    doc: 'Server URL, redis://[user:password@]host:6379[/db] or rediss://… for TLS. Put the password in from the environment (${REDIS_PASSWORD}), percent-encoded.',
    format: 'redis-url',
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
      if (value !== null && (!Number.isInteger(value) || (value as number) < 1))
        throw new Error('must be a positive integer, or left out for no trimming');
    },
    default: null,
  },
  tls: {
    doc: 'TLS options for rediss:// passed as they are to Node tls.connect (ca, cert, key as PEM text, rejectUnauthorized, servername, …; a key tls.connect does not know is a config error). Unset: the system CAs.',
    format: (value: unknown) => {
      if (value !== null) assertTlsOptions(value);
    },
    default: null,
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
  const path = new URL(config.url).pathname;
  // Not quoted: a password with a / not percent-encoded (redis://u:2024/pw@h) is parsed as host u, port 2024 and the rest of it as the path.
  if (!/^\/?(\d+)?$/.test(path))
    problems.push({
      path: 'url',
      message: 'path must be a database number (/0); a / ? # or @ in the password must be percent-encoded (%2F %3F %23 %40)',
    });
  // A hash tag ({…}) places streams in one cluster slot: braces around a placeholder are Redis'.
  const template = checkTemplate(config.stream, { literalBraces: true });
  if (template !== undefined) problems.push({ path: 'stream', message: template });
  if (config.tls !== null && config.url.startsWith('redis://'))
    problems.push({ path: 'tls', message: 'is set but the url is redis:// (plain TCP); use rediss://' });
  return problems;
}

/** The URL password, raw and percent-decoded, so neither form can leak into a log line; the TLS key and passphrase. */
export function redisSecrets(config: RedisSinkConfig): string[] {
  return [...urlPassword(config.url), ...tlsSecrets(config.tls)];
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
