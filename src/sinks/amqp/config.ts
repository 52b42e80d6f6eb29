import type { Schema } from 'convict';
import { checkTemplate } from '../../template.js';
import { urlPassword } from '../../config/secrets.js';
import type { CommonSinkConfig, ConfigProblem } from '../../config/sink-schema.js';

export const EXCHANGE_TYPES = ['topic', 'direct', 'fanout', 'headers'] as const;
export type ExchangeType = (typeof EXCHANGE_TYPES)[number];

/** The keys of an `amqp` sink; the common ones (name, format, retry, …) are merged in by the loader. */
export interface AmqpConfig {
  url: string;
  exchange: string;
  exchange_type: ExchangeType;
  declare: boolean;
  routing_key: string;
  mandatory: boolean;
  heartbeat_s: number;
  connect_timeout_ms: number;
}

export type AmqpSinkConfig = AmqpConfig & CommonSinkConfig;

export const amqpSchema: Schema<AmqpConfig> = {
  url: {
    doc: 'Broker URL, amqp://user:pass@host:5672/vhost or amqps://… (query options such as frameMax are passed on).',
    format: 'amqp-url',
    default: null,
    sensitive: true,
  },
  exchange: {
    doc: 'Exchange the events are published to.',
    format: 'required-string',
    default: null,
  },
  exchange_type: {
    doc: 'Type the exchange is declared with when `declare` is true.',
    format: [...EXCHANGE_TYPES],
    default: 'topic',
  },
  declare: {
    doc: 'Declare the exchange (durable) on connect; false: it must already exist, else the sink is not ready.',
    format: Boolean,
    default: true,
  },
  routing_key: {
    doc: 'Routing key template: {schema}, {table}, {op} (insert|update|delete|truncate|read), {channel}. A channel event is routed by its channel name under a template with {schema}, {table} or {op} but no {channel}; a fixed template (no placeholder) applies to it as written. AMQP allows at most 255 bytes (UTF-8): an event whose key renders longer is dead-lettered.',
    format: String,
    default: '{schema}.{table}.{op}',
  },
  mandatory: {
    doc: 'Publish with the mandatory flag: a message no queue is bound for comes back and its event is dead-lettered. false: the broker drops such a message and the event counts as delivered (for an exchange where having no consumer is fine).',
    format: Boolean,
    default: true,
  },
  heartbeat_s: {
    doc: 'AMQP heartbeat in seconds: a silent broker is considered gone after about twice this. 0 turns heartbeats off.',
    format: 'non-negative-int',
    default: 30,
  },
  connect_timeout_ms: {
    doc: 'How long opening the TCP/TLS connection may take.',
    format: 'positive-int',
    default: 10000,
  },
};

export function checkAmqpConfig(config: AmqpSinkConfig): ConfigProblem[] {
  const problem = checkTemplate(config.routing_key);
  return problem === undefined ? [] : [{ path: 'routing_key', message: problem }];
}

/** The URL password, raw and percent-decoded, so neither form can leak into a log line. */
export function amqpSecrets(config: AmqpSinkConfig): string[] {
  return urlPassword(config.url);
}
