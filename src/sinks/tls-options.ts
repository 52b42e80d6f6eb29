import { EntryProblem } from '../config/formats.js';

/**
 * The options of Node's tls.connect (and tls.createSecureContext, which it
 * passes them on to) that a config file can hold: values, not functions or
 * sockets. Any other key is refused, so that a misspelt one (`rejectUnauthorised`,
 * `cafile`) is a config error rather than an option silently left out.
 */
const NODE_TLS_OPTIONS: ReadonlySet<string> = new Set([
  'ca',
  'cert',
  'key',
  'pfx',
  'passphrase',
  'crl',
  'servername',
  'rejectUnauthorized',
  'requestCert',
  'enableTrace',
  'minVersion',
  'maxVersion',
  'ciphers',
  'sigalgs',
  'ecdhCurve',
  'dhparam',
  'honorCipherOrder',
  'secureOptions',
  'secureProtocol',
  'sessionIdContext',
  'sessionTimeout',
  'ALPNProtocols',
  'minDHSize',
  'highWaterMark',
  'privateKeyEngine',
  'privateKeyIdentifier',
  'clientCertEngine',
  // tls.connect's own, for the TLSSocket it makes:
  'requestOCSP',
  // …and those it hands to the socket's connect (net.connect), where a library (kafkajs, ioredis, mqtt.js) passes the map as it is:
  'family',
  'hints',
  'localAddress',
  'localPort',
  'noDelay',
  'keepAlive',
  'keepAliveInitialDelay',
  'autoSelectFamily',
  'autoSelectFamilyAttemptTimeout',
]);

/**
 * The options of Node's tls.connect that are true or false. A `${NAME}` in a
 * map of TLS options stays text (config/env-types.ts types only keys it
 * knows), and Node takes any value but `false` for rejectUnauthorized as
 * true: `rejectUnauthorized: ${VERIFY}` with VERIFY=false would verify anyway.
 */
const BOOLEAN_OPTIONS = ['rejectUnauthorized', 'requestCert', 'enableTrace', 'requestOCSP', 'noDelay', 'keepAlive', 'autoSelectFamily'];

/** Why a map of TLS options cannot be used as written, or undefined. */
export function tlsOptionsProblem(options: Readonly<Record<string, unknown>>): string | undefined {
  for (const key of BOOLEAN_OPTIONS) {
    const value = options[key];
    if (value !== undefined && typeof value !== 'boolean' && value !== 'true' && value !== 'false') return `${key} must be true or false`;
  }
  return undefined;
}

/** Throws (naming the entry when it is an unknown key) unless `value` is a map of TLS options that can be used as written. */
export function assertTlsOptions(value: unknown): void {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error('must be a map of TLS options');
  const options = value as Readonly<Record<string, unknown>>;
  const unknown = Object.keys(options).find((key) => !NODE_TLS_OPTIONS.has(key));
  if (unknown !== undefined)
    throw new EntryProblem(
      `.${unknown}`,
      `is not an option of Node's tls.connect; use ca, cert, key, passphrase, servername, rejectUnauthorized, minVersion, …`,
    );
  const problem = tlsOptionsProblem(options);
  if (problem) throw new Error(problem);
}

/** The map as tls.connect must get it: 'true' / 'false' of those options as booleans. */
export function nodeTlsOptions(options: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out = { ...options };
  for (const key of BOOLEAN_OPTIONS) if (out[key] === 'true' || out[key] === 'false') out[key] = out[key] === 'true';
  return out;
}

/**
 * What a map of TLS options holds that is secret: the passphrase, and each
 * private key (PEM text: the whole and every line of its body, as a creds
 * file's). Not that a library is known to print them: masked in case one does.
 */
export function tlsSecrets(options: Readonly<Record<string, unknown>> | boolean | null | undefined): string[] {
  if (options === null || typeof options !== 'object') return [];
  const texts = [options.passphrase, ...[options.key, options.pfx].flat()].flatMap((value) =>
    typeof value === 'string' ? [value] : typeof value === 'object' && value !== null ? keyObjectTexts(value as Record<string, unknown>) : [],
  );
  return [...new Set(texts.flatMap((text) => [text, ...pemBodyLines(text)]))];
}

/** tls.connect also takes a key as {pem, passphrase} (or {buf, passphrase} for pfx). */
const keyObjectTexts = (key: Record<string, unknown>): string[] =>
  [key.pem, key.buf, key.passphrase].filter((value): value is string => typeof value === 'string');

/** The base64 lines between a PEM's markers (a short one, the last, would mask common text: left out). */
const pemBodyLines = (text: string): string[] =>
  text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line.length >= 8 && !line.startsWith('-----') && line !== text);
