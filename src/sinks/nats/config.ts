import { readFileSync } from 'node:fs';
import type { Schema } from 'convict';
import { errorMessage } from '../../errors.js';
import { asWrittenAndDecoded } from '../../config/secrets.js';
import { EntryProblem } from '../../config/formats.js';
import { checkTemplate } from '../../template.js';
import type { CommonSinkConfig, ConfigProblem } from '../../config/sink-schema.js';
import { streamSubjectsProblem } from './stream-subjects.js';

/** TLS as written in the file: true (the system's CAs), or files and switches. */
export interface NatsTlsConfig {
  ca_file?: string;
  cert_file?: string;
  key_file?: string;
  reject_unauthorized?: boolean;
  handshake_first?: boolean;
}

/** The keys of a `nats` sink; the common ones (name, format, retry, …) are merged in by the loader. */
export interface NatsConfig {
  url: string | string[];
  subject: string;
  channel_subject: string;
  stream: string | null;
  declare: boolean;
  duplicate_window_ms: number;
  user: string | null;
  password: string | null;
  token: string | null;
  creds: string | null;
  tls: boolean | NatsTlsConfig | null;
  timeout_ms: number;
  connect_timeout_ms: number;
  ping_interval_ms: number;
}

export type NatsSinkConfig = NatsConfig & CommonSinkConfig;

const TLS_KEYS = ['ca_file', 'cert_file', 'key_file', 'reject_unauthorized', 'handshake_first'];
const SCHEMES = ['nats:', 'tls:'];
/** JetStream's rule for stream names: no whitespace, dots or wildcards, nor path separators. */
const STREAM_NAME = /^[^\s.*>/\\]{1,255}$/;

const optionalString = (what: string) => (value: unknown) => {
  if (value !== null && (typeof value !== 'string' || value === '')) throw new Error(`must be ${what}`);
};

export const natsSchema: Schema<NatsConfig> = {
  url: {
    doc: 'Server URL(s): nats://host:4222 or tls://host:4222 (TLS required); a list, or several in one string separated by commas, for a cluster. nats://user:pass@host and nats://token@host work too.',
    format: 'nats-urls',
    default: null as unknown as string,
    sensitive: true,
  },
  subject: {
    doc: 'Subject template for row events: {schema}, {table}, {op} (insert|update|delete); {channel} belongs in `channel_subject`. A subject with whitespace, an empty token or a `*` or `>` token is refused per event (dead-lettered).',
    format: 'required-string',
    default: 'pgbridge.{schema}.{table}.{op}',
  },
  channel_subject: {
    doc: 'Subject template for channel (NOTIFY) events: {channel} (the row placeholders are a config error here). Kept apart from `subject` so that one stream can hold both.',
    format: 'required-string',
    default: 'pgbridge.channel.{channel}',
  },
  stream: {
    doc: "JetStream stream the events must land in: every publish expects it (a subject stored by another stream is refused), and connect checks that it exists. An event whose subject none of the stream's subjects matches (e.g. a dotted schema or table name under a `*` wildcard) is refused alone (dead-lettered). Unset: whatever stream takes the subject; one that no stream takes is retried.",
    format: (value: unknown) => {
      if (value === null) return;
      if (typeof value !== 'string' || !STREAM_NAME.test(value)) throw new Error('must be a stream name without whitespace, dots, *, >, / or \\');
    },
    default: null,
  },
  declare: {
    doc: 'Create the stream on connect when it does not exist, over the wildcards of `subject` and `channel_subject` (`pgbridge.*.*.*` and `pgbridge.channel.*`), file storage; a wildcard the other covers is left out (`x.*.*` takes `x.ch.*`), and two that overlap without one covering the other are a config error (JetStream refuses them). An existing stream is left as it is. Needs `stream`.',
    format: Boolean,
    default: false,
  },
  duplicate_window_ms: {
    doc: 'Duplicate window of a declared stream: a redelivered event (same Nats-Msg-Id) inside it is stored once.',
    format: 'positive-int',
    default: 120000,
  },
  user: { doc: 'User name (with `password`).', format: optionalString('a user name'), default: null },
  password: { doc: 'Password of `user`.', format: optionalString('a password'), default: null, sensitive: true },
  token: { doc: 'Authentication token.', format: optionalString('a token'), default: null, sensitive: true },
  creds: {
    doc: 'Path of a .creds file (user JWT and NKey seed, as nsc writes it) for decentralized auth.',
    format: optionalString('the path of a .creds file'),
    default: null,
  },
  tls: {
    doc: 'TLS: true (system CAs), or {ca_file, cert_file, key_file (client certificate), reject_unauthorized, handshake_first}. A tls:// URL also requires TLS.',
    format: (value: unknown) => {
      if (value === null || typeof value === 'boolean') return;
      if (typeof value !== 'object' || Array.isArray(value)) throw new Error('must be true, false or a map of TLS options');
      const unknownKey = Object.keys(value).find((key) => !TLS_KEYS.includes(key));
      if (unknownKey !== undefined) throw new EntryProblem(`.${unknownKey}`, `is not a known key; use ${TLS_KEYS.join(', ')}`);
    },
    default: null,
  },
  timeout_ms: {
    doc: 'How long a publish may wait for its PubAck before it is retried.',
    format: 'positive-int',
    default: 5000,
  },
  connect_timeout_ms: {
    doc: 'How long connecting (TCP, TLS, auth) may take.',
    format: 'positive-int',
    default: 10000,
  },
  ping_interval_ms: {
    doc: 'Client pings: a server that misses two in a row is considered gone and the sink reconnects.',
    format: 'positive-int',
    default: 10000,
  },
};

/** `url`: one nats:// or tls:// URL, or a list of them (an entry may hold several separated by commas). */
export const natsUrlsFormat = {
  validate(value: unknown): void {
    const urls = typeof value === 'string' ? [value] : value;
    if (!Array.isArray(urls) || urls.length === 0) throw new Error('is required: a nats:// or tls:// URL, or a list of them');
    for (const url of serverList(urls as unknown[])) {
      let parsed: URL;
      try {
        parsed = new URL(url);
      } catch {
        throw new Error('is not a valid URL');
      }
      if (!SCHEMES.includes(parsed.protocol)) throw new Error(`must use nats:// or tls://, got ${parsed.protocol.replace(':', '://')}`);
    }
  },
};

/** The server URLs, with comma-separated entries split. */
export function serverList(urls: readonly unknown[] | string): string[] {
  const entries = typeof urls === 'string' ? [urls] : urls;
  return entries
    .flatMap((entry) => String(entry).split(','))
    .map((url) => url.trim())
    .filter((url) => url !== '');
}

/**
 * Each template serves one kind of event: {channel} is empty in a row event's
 * subject, and {schema}, {table} and {op} in a channel event's (which renderTemplate
 * then replaces with the bare channel name): neither is what was meant.
 */
function misplacedPlaceholder(key: 'subject' | 'channel_subject', template: string): string | undefined {
  const misplaced = key === 'subject' ? ['{channel}'] : ['{schema}', '{table}', '{op}'];
  const found = misplaced.find((placeholder) => template.includes(placeholder));
  if (found === undefined) return undefined;
  return key === 'subject'
    ? `${found} is for channel events: put it in channel_subject`
    : `${found} is for row events (channel events have no ${found.slice(1, -1)}): put it in subject; channel_subject takes {channel}`;
}

export function checkNatsConfig(config: NatsSinkConfig): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const key of ['subject', 'channel_subject'] as const) {
    const problem = typeof config[key] === 'string' ? (checkTemplate(config[key]) ?? misplacedPlaceholder(key, config[key])) : undefined;
    if (problem !== undefined) problems.push({ path: key, message: problem });
  }
  if (config.declare && config.stream === null) problems.push({ path: 'declare', message: 'needs `stream`: the name of the stream to create' });
  const overlap = config.declare ? streamSubjectsProblem(config) : undefined;
  if (overlap !== undefined) problems.push({ path: 'declare', message: overlap });
  if ((config.user === null) !== (config.password === null)) {
    problems.push({ path: config.user === null ? 'user' : 'password', message: 'user and password go together' });
  }
  const methods = [config.user !== null && 'user/password', config.token !== null && 'token', config.creds !== null && 'creds'].filter(Boolean);
  if (methods.length > 1) problems.push({ path: 'token', message: `give one of user/password, token and creds, not ${methods.join(' and ')}` });
  if (config.creds !== null) {
    try {
      readFileSync(config.creds);
    } catch (err) {
      problems.push({ path: 'creds', message: `cannot read ${JSON.stringify(config.creds)}: ${errorMessage(err)}` });
    }
  }
  return problems;
}

/**
 * Password, token, the credentials in the URLs (nats://user:pass@ and the
 * nats://token@ form) and what a .creds file holds: its JWT and its seed.
 */
export function natsSecrets(config: NatsSinkConfig): string[] {
  const secrets = [config.password, config.token].filter((s): s is string => typeof s === 'string' && s !== '');
  for (const url of serverList(typeof config.url === 'string' ? [config.url] : (config.url ?? []))) secrets.push(...urlCredentials(url));
  if (config.creds !== null) secrets.push(...credsSecrets(config.creds));
  return [...new Set(secrets)];
}

function urlCredentials(url: string): string[] {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return [];
  }
  // Without a password, the user part of nats://token@host is the token.
  const secret = parsed.password !== '' ? parsed.password : parsed.username;
  return secret === '' ? [] : asWrittenAndDecoded(secret);
}

/** The JWT and the seed: every line of the file between its BEGIN/END markers. */
function credsSecrets(path: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return [];
  }
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line.length >= 16 && !line.startsWith('-') && !line.startsWith('*') && !/\s/.test(line));
}
