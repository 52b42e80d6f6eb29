import { assertTlsOptions, tlsSecrets } from '../tls-options.js';
import type { Schema } from 'convict';
import { urlPassword } from '../../config/secrets.js';
import type { CommonSinkConfig, ConfigProblem } from '../../config/sink-schema.js';
import { checkTemplate } from '../../template.js';

/** QoS levels with an acknowledgement: 1 (PUBACK) and 2 (PUBREC, PUBREL, PUBCOMP). */
export type ConfirmedQos = 1 | 2;

/** The keys of an `mqtt` sink; the common ones (name, format, retry, …) are merged in by the loader. */
export interface MqttConfig {
  url: string;
  topic: string;
  qos: ConfirmedQos;
  username: string | null;
  password: string | null;
  client_id: string | null;
  tls: Record<string, unknown> | null;
  keepalive_s: number;
  connect_timeout_ms: number;
  timeout_ms: number;
}

export type MqttSinkConfig = MqttConfig & CommonSinkConfig;

export const mqttSchema: Schema<MqttConfig> = {
  url: {
    doc: 'Broker URL, mqtt://host:1883 or mqtts://host:8883 (TLS). User and password may be given in it (mqtt://user:pass@host) or as `username` / `password`.',
    format: 'mqtt-url',
    default: null as unknown as string,
    sensitive: true,
  },
  topic: {
    doc: 'Topic template: {schema}, {table}, {op} (insert|update|delete), {channel}. A channel event goes to the topic named after its channel under a template with {schema}, {table} or {op} but no {channel}; a fixed template (no placeholder) applies to it as written. A rendered topic with + or # (MQTT topics to publish to have no wildcards), or with a control character or a Unicode noncharacter (MQTT strings cannot carry them), is refused (dead-lettered).',
    format: String,
    default: 'pgbridge/{schema}/{table}/{op}',
  },
  qos: {
    doc: 'Quality of service: 1 (confirmed by PUBACK, default) or 2 (exactly once between pgbridge and the broker, confirmed by PUBCOMP). 0 is refused: it has no acknowledgement, so events can be lost.',
    format: (value: unknown) => {
      if (value === 0 || value === '0') throw new Error('0 is refused: QoS 0 has no acknowledgement, so events can be lost; use 1 or 2');
      if (value !== 1 && value !== 2) throw new Error(`must be 1 or 2, got ${JSON.stringify(value)}`);
    },
    default: 1,
  },
  username: {
    doc: 'User name for the broker (instead of the one in the URL).',
    format: 'optional-string',
    default: null,
  },
  password: {
    doc: 'Password for the broker (instead of the one in the URL); write it as ${MQTT_PASSWORD}.',
    format: 'optional-string',
    default: null,
    sensitive: true,
  },
  client_id: {
    doc: 'MQTT client identifier. Unset: pgbridge-<sink name>-<random>, new for each connection. Two connections with the same id push each other off the broker.',
    format: 'optional-string',
    default: null,
  },
  tls: {
    doc: 'TLS options for mqtts:// passed as they are to Node tls.connect (ca, cert, key as PEM text, rejectUnauthorized, servername, minVersion, …; a key tls.connect does not know is a config error). Unset: the system CAs.',
    format: (value: unknown) => {
      if (value !== null) assertTlsOptions(value);
    },
    default: null,
  },
  keepalive_s: {
    doc: 'MQTT keep-alive in seconds: a broker that stops answering is considered gone after about this long. 0 turns keep-alive off.',
    format: 'non-negative-int',
    default: 30,
  },
  connect_timeout_ms: {
    doc: 'How long connecting (TCP, TLS, CONNECT/CONNACK) may take.',
    format: 'positive-int',
    default: 10000,
  },
  timeout_ms: {
    doc: 'How long a publish may wait for its PUBACK (QoS 1) or PUBCOMP (QoS 2); past it the connection is dropped and the batch sent again on a new one.',
    format: 'positive-int',
    default: 30000,
  },
};

export function checkMqttConfig(config: MqttSinkConfig): ConfigProblem[] {
  const problem = checkTemplate(config.topic);
  if (problem !== undefined) return [{ path: 'topic', message: problem }];
  if (config.topic.trim() === '') return [{ path: 'topic', message: 'must not be empty' }];
  const literal = config.topic.replace(/\{[^{}]*\}/g, '');
  if (/[+#]/.test(literal))
    return [
      { path: 'topic', message: 'must not contain + or #: MQTT allows wildcards only in subscriptions, not in the topic a message is published to' },
    ];
  return [];
}

/** The password (key, and the URL's as written and percent-decoded), so no form of it can leak into a log line; the TLS key and passphrase. */
export function mqttSecrets(config: MqttSinkConfig): string[] {
  const fromKey = typeof config.password === 'string' && config.password !== '' ? [config.password] : [];
  return [...fromKey, ...urlPassword(config.url), ...tlsSecrets(config.tls)];
}

/** The URL for messages: scheme, host and port, never the credentials. */
export function describeBroker(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}`;
  } catch {
    return '(invalid url)';
  }
}
