import type { Schema } from 'convict';
import { percentDecoded, urlPassword } from '../../config/secrets.js';
import type { CommonSinkConfig, ConfigProblem } from '../../config/sink-schema.js';
import { headerProblems } from './headers.js';
import { secretProblem } from './secret.js';

export interface WebhookConfig {
  url: string;
  method: 'POST' | 'PUT';
  headers: Record<string, string>;
  timeout_ms: number;
  probe_interval_ms: number;
  secret: string | string[] | null;
  cloudevents_mode: 'structured' | 'binary';
}

export type WebhookSinkConfig = WebhookConfig & CommonSinkConfig;

export const webhookSchema: Schema<WebhookConfig> = {
  url: { doc: 'Endpoint (http:// or https://).', format: 'http-url', default: null as unknown as string },
  method: { doc: 'HTTP method.', format: ['POST', 'PUT'], default: 'POST' },
  headers: {
    doc: "Extra request headers (e.g. Authorization: Bearer ${TOKEN}), sent as written. One named as a default of pgbridge's (user-agent: pgbridge; authorization from user:password in the url), in any case, replaces it. The headers pgbridge sets itself are refused: content-type (but for application/json, which pgbridge sends anyway: accepted and left to pgbridge), content-length, transfer-encoding, keep-alive, upgrade, expect, webhook-id, webhook-timestamp, webhook-signature, and the CloudEvents ce-specversion, ce-id, ce-time, ce-type, ce-source, ce-subject.",
    format: 'string-map',
    default: {},
  },
  timeout_ms: { doc: 'Time for the whole request; past it the attempt counts as failed and is retried.', format: 'positive-int', default: 10000 },
  probe_interval_ms: {
    doc: 'How long the webhook may go without an HTTP answer before a HEAD request checks it is still there (for /readyz while no event is sent); 0 = never.',
    format: 'non-negative-int',
    default: 30000,
  },
  secret: {
    doc: 'Standard Webhooks signing secret, whsec_<base64>: the key in standard padded base64, the prefix optional (a secret that is not such base64, or holds no key, is a config error). A list while rotating. Adds webhook-id, webhook-timestamp, webhook-signature.',
    format: (value: unknown) => {
      if (value === null) return;
      const list = Array.isArray(value) ? value : [value];
      if (list.length === 0 || list.some((s) => typeof s !== 'string' || s === '')) throw new Error('must be a secret or a list of secrets');
    },
    default: null,
  },
  cloudevents_mode: {
    doc: 'With format cloudevents: structured (application/cloudevents+json body) or binary (ce-* headers, data as body).',
    format: ['structured', 'binary'],
    default: 'structured',
  },
};

/**
 * Header names that may carry credentials, matched inside words (X-ApiPassword,
 * X-SessionId): a name that merely holds one (X-Bypass-Cache) costs at most
 * the masking of its value, which PLAIN_SETTING keeps to values that are no settings.
 */
const SECRET_HEADER = /auth|token|key|secret|cookie|signature|pass|pwd|cred|session|jwt|bearer/i;

/** Whether a header's value is a secret, by its name. */
export const namesCredentials = (header: string): boolean => SECRET_HEADER.test(header);

/**
 * Values that are settings, never credentials (X-Bypass-Cache: true,
 * X-Session-Timeout: 300): never masked, as masking them everywhere would break
 * other text (`"paused":true`, `"retry_in_ms":300` in a log line). A number of
 * 8 digits or more may be a PIN or a key: masked.
 */
const PLAIN_SETTING = /^(true|false|yes|no|on|off|enabled?|disabled?|none|null|[+-]?\d{1,7}(\.\d+)?)$/i;

export function checkWebhook(config: WebhookSinkConfig): ConfigProblem[] {
  const problems = [...headerProblems(config.headers), ...secretProblems(config.secret), ...credentialProblems(config.url)];
  if (config.format === 'cloudevents' && config.cloudevents_mode === 'binary' && config.batch.max_events > 1) {
    problems.push({
      path: 'batch.max_events',
      message: 'binary-mode CloudEvents carry one event per request; use 1 or cloudevents_mode: structured',
    });
  }
  return problems;
}

/** user:password becomes the Basic header decoded, so a % in it must start an escape (the URL parser lets `50%off` through). */
function credentialProblems(url: string): ConfigProblem[] {
  const { username, password } = new URL(url);
  if (percentDecoded(username) !== undefined && percentDecoded(password) !== undefined) return [];
  return [{ path: 'url', message: 'user:password holds a % that starts no percent-encoded character: write % itself as %25' }];
}

/** The signing secrets, one or a list while rotating. */
export const secretList = (secret: WebhookConfig['secret']): string[] => (secret === null ? [] : Array.isArray(secret) ? secret : [secret]);

function secretProblems(secret: WebhookConfig['secret']): ConfigProblem[] {
  return secretList(secret).flatMap((item, i) => {
    const message = secretProblem(item);
    return message === undefined ? [] : [{ path: Array.isArray(secret) ? `secret[${i}]` : 'secret', message }];
  });
}

export function webhookSecrets(config: WebhookSinkConfig): string[] {
  const secrets = secretList(config.secret);
  const headers = Object.entries(config.headers)
    .filter(([name]) => namesCredentials(name))
    .flatMap(([, value]) => headerSecrets(value))
    .filter((secret) => !PLAIN_SETTING.test(secret));
  return [...secrets, ...headers, ...urlPassword(config.url), ...basicCredentials(config.url)];
}

/**
 * A secret header's value, and the pieces of it a far end may quote alone: the
 * credentials after an auth scheme (`Bearer <token>`), as short as a password
 * may be, and each word and each cookie or parameter value (`session=<id>;
 * theme=dark`) of 8 characters or more, so that no common word is masked everywhere.
 */
function headerSecrets(value: string): string[] {
  const credentials = /^[A-Za-z][\w-]*\s+(\S+)$/.exec(value)?.[1];
  const pieces = value.split(/[\s;,]+/).flatMap((word) => [word, word.slice(word.indexOf('=') + 1)]);
  return [value, ...(credentials === undefined ? [] : [credentials]), ...pieces.filter((piece) => piece.length >= 8)];
}

/** user:password in the URL travels base64-encoded in the Authorization header, and can be echoed back that way. */
function basicCredentials(text: string): string[] {
  const url = new URL(text);
  const [username, password] = [percentDecoded(url.username), percentDecoded(url.password)];
  // Undecodable: credentialProblems refuses the config.
  if (!url.password || username === undefined || password === undefined) return [];
  return [Buffer.from(`${username}:${password}`).toString('base64')];
}
