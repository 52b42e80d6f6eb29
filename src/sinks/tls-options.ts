/**
 * The options of Node's tls.connect that are true or false. A `${NAME}` in a
 * map of TLS options stays text (config/env-types.ts types only keys it
 * knows), and Node takes any value but `false` for rejectUnauthorized as
 * true: `rejectUnauthorized: ${VERIFY}` with VERIFY=false would verify anyway.
 */
const BOOLEAN_OPTIONS = ['rejectUnauthorized', 'requestCert', 'enableTrace'];

/** Why a map of TLS options cannot be used as written, or undefined. */
export function tlsOptionsProblem(options: Readonly<Record<string, unknown>>): string | undefined {
  for (const key of BOOLEAN_OPTIONS) {
    const value = options[key];
    if (value !== undefined && typeof value !== 'boolean' && value !== 'true' && value !== 'false') return `${key} must be true or false`;
  }
  return undefined;
}

/** The map as tls.connect must get it: 'true' / 'false' of those options as booleans. */
export function nodeTlsOptions(options: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out = { ...options };
  for (const key of BOOLEAN_OPTIONS) if (out[key] === 'true' || out[key] === 'false') out[key] = out[key] === 'true';
  return out;
}
