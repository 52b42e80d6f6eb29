import { assertTlsOptions, tlsSecrets } from '../tls-options.js';
import type { Schema } from 'convict';
import { checkTemplate } from '../../template.js';
import type { CommonSinkConfig, ConfigProblem } from '../../config/sink-schema.js';

export const SASL_MECHANISMS = ['plain', 'scram-sha-256', 'scram-sha-512'] as const;
export type SaslMechanism = (typeof SASL_MECHANISMS)[number];

export interface KafkaSaslConfig {
  mechanism: SaslMechanism;
  username: string;
  password: string;
}

export const COMPRESSIONS = ['none', 'gzip'] as const;
export type Compression = (typeof COMPRESSIONS)[number];

/** Acknowledgement level as written in the file: all, 1, 0 (or -1 for all). */
export type AcksSetting = 'all' | '-1' | '0' | '1' | -1 | 0 | 1;
const ACKS: readonly unknown[] = ['all', '-1', '0', '1', -1, 0, 1];

/** The keys of a `kafka` sink; the common ones (name, format, retry, …) are merged in by the loader. */
export interface KafkaConfig {
  brokers: string[];
  topic: string;
  key: string | null;
  acks: AcksSetting;
  compression: Compression;
  ssl: boolean | Record<string, unknown> | null;
  sasl: KafkaSaslConfig | null;
  client_id: string;
  allow_auto_topic_creation: boolean;
  timeout_ms: number;
}

export type KafkaSinkConfig = KafkaConfig & CommonSinkConfig;

export const kafkaSchema: Schema<KafkaConfig> = {
  brokers: {
    doc: 'Bootstrap brokers, host:port each. An entry may hold several separated by commas (handy with ${KAFKA_BROKERS}).',
    format: 'non-empty-string-list',
    default: [],
  },
  topic: {
    doc: 'Topic template: {schema}, {table}, {op} (insert|update|delete), {channel}. A channel event goes to the topic named after its channel under a template with {schema}, {table} or {op} but no {channel}; a fixed template (no placeholder) applies to it as written.',
    format: String,
    default: '{schema}.{table}',
  },
  key: {
    doc: 'Message key template. Unset: the row\'s primary key columns as JSON ({"id":7}); no key for tables without a primary key and for channel events (those keep their order by going to one partition per table or channel).',
    format: (value: unknown) => {
      if (value !== null && (typeof value !== 'string' || value === ''))
        throw new Error('must be a non-empty template, or left out to key by primary key');
    },
    default: null,
  },
  acks: {
    doc: 'Acknowledgements a send waits for: all (every in-sync replica, also -1), 1 (the leader) or 0 (none: fire and forget, events can be lost).',
    format: (value: unknown) => {
      if (!ACKS.includes(value)) throw new Error(`must be all, 1 or 0, got ${JSON.stringify(value)}`);
    },
    default: 'all',
  },
  compression: {
    doc: 'Compression of message batches: none or gzip.',
    format: [...COMPRESSIONS],
    default: 'none',
  },
  ssl: {
    doc: 'TLS: true, or options passed as they are to Node tls.connect (ca, cert, key as PEM text, rejectUnauthorized, servername, minVersion, …; a key tls.connect does not know is a config error). Unset: plain TCP.',
    format: (value: unknown) => {
      if (value !== null && typeof value !== 'boolean' && (typeof value !== 'object' || Array.isArray(value))) {
        throw new Error('must be true, false or a map of TLS options');
      }
      if (value !== null && typeof value === 'object') assertTlsOptions(value);
    },
    default: null,
  },
  sasl: {
    doc: 'SASL authentication: {mechanism: plain | scram-sha-256 | scram-sha-512, username, password}. Unset: none.',
    format: (value: unknown) => {
      if (value !== null && (typeof value !== 'object' || Array.isArray(value)))
        throw new Error('must be a map with mechanism, username and password');
    },
    default: null,
    sensitive: true,
  },
  client_id: {
    doc: 'Client id the brokers see (quotas, logs).',
    format: 'required-string',
    default: 'pgbridge',
  },
  allow_auto_topic_creation: {
    doc: 'Let the brokers create a missing topic on first send (when they allow it). false: a missing topic is retried until it exists (dead-lettered once retry.max_attempts, if set, runs out).',
    format: Boolean,
    default: true,
  },
  timeout_ms: {
    doc: "How long a send may wait for the brokers' acknowledgement.",
    format: 'positive-int',
    default: 30000,
  },
};

const BROKER = /^(\[[0-9a-fA-F:.]+\]|[^\s:/[\]]+):\d{1,5}$/;

/** The broker addresses, with comma-separated entries split. */
export function brokerList(brokers: readonly string[]): string[] {
  return brokers
    .flatMap((entry) => entry.split(','))
    .map((b) => b.trim())
    .filter((b) => b !== '');
}

/** kafkajs' acks number: -1 all, 1 leader, 0 none. */
export function ackLevel(acks: AcksSetting): -1 | 0 | 1 {
  if (acks === 'all' || acks === '-1' || acks === -1) return -1;
  return acks === '0' || acks === 0 ? 0 : 1;
}

export function checkKafkaConfig(config: KafkaSinkConfig): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const brokers = Array.isArray(config.brokers) ? brokerList(config.brokers) : [];
  for (const broker of brokers) {
    if (!BROKER.test(broker)) problems.push({ path: 'brokers', message: `${JSON.stringify(broker)} is not host:port` });
  }
  for (const key of ['topic', 'key'] as const) {
    const template = config[key];
    // A key may be JSON as the default one is ({"table":"{table}"}); a topic name has no use for a brace.
    const problem = typeof template === 'string' ? checkTemplate(template, { literalBraces: key === 'key' }) : undefined;
    if (problem !== undefined) problems.push({ path: key, message: problem });
  }
  if (config.sasl !== null && typeof config.sasl === 'object') problems.push(...checkSasl(config.sasl));
  return problems;
}

function checkSasl(sasl: object): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const fields: Record<string, unknown> = { ...sasl };
  if (!(SASL_MECHANISMS as readonly unknown[]).includes(fields.mechanism)) {
    problems.push({ path: 'sasl.mechanism', message: `must be ${SASL_MECHANISMS.join(', ')}; got ${JSON.stringify(fields.mechanism ?? null)}` });
  }
  for (const name of ['username', 'password']) {
    if (typeof fields[name] !== 'string' || fields[name] === '') problems.push({ path: `sasl.${name}`, message: 'is required' });
  }
  for (const name of Object.keys(fields)) {
    if (!['mechanism', 'username', 'password'].includes(name)) problems.push({ path: `sasl.${name}`, message: 'is not a known key' });
  }
  return problems;
}

/** The SASL password; the TLS key and passphrase. */
export function kafkaSecrets(config: KafkaSinkConfig): string[] {
  const password = config.sasl?.password;
  return [...(typeof password === 'string' && password !== '' ? [password] : []), ...tlsSecrets(config.ssl)];
}
