const PREFIX = 'whsec_';

/**
 * Base64 as RFC 4648 §4 writes it: the standard alphabet, padded to a multiple
 * of four. Buffer.from(…, 'base64') would skip any other character instead,
 * and sign with whatever was left of the key (nothing, for `whsec_!!!`).
 */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Standard Webhooks: the key is the base64 after an optional whsec_ prefix (as the reference libraries read it). */
const encodedKey = (secret: string): string => (secret.startsWith(PREFIX) ? secret.slice(PREFIX.length) : secret);

/** What is wrong with a signing secret, without quoting it; undefined for a good one. */
export function secretProblem(secret: string): string | undefined {
  const encoded = encodedKey(secret);
  if (!BASE64.test(encoded)) return 'must be whsec_ followed by the key in base64 (A-Z a-z 0-9 + /, padded with = to a multiple of 4)';
  if (encoded === '') return 'holds no key: whsec_ must be followed by the key in base64';
  return undefined;
}

/** The HMAC key of a signing secret the config loader accepted. */
export function signingKey(secret: string): Buffer {
  const problem = secretProblem(secret);
  if (problem !== undefined) throw new Error(`webhook secret: ${problem}`);
  return Buffer.from(encodedKey(secret), 'base64');
}
