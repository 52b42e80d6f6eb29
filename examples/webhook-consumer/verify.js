// Standard Webhooks signature verification (https://www.standardwebhooks.com/),
// with nothing but node:crypto. Copy this file into your own consumer.
import { createHmac, timingSafeEqual } from 'node:crypto';

/** How far webhook-timestamp may be from our clock, either way (replay protection). */
export const DEFAULT_TOLERANCE_SECONDS = 5 * 60;

/**
 * Why a delivery fails verification, or null when it is authentic.
 *
 * @param {string} secret     `whsec_<base64>` as in the pgbridge config (the key is the decoded base64)
 * @param {Headers | Record<string, string | string[] | undefined>} headers  request headers (node's req.headers or a fetch Headers)
 * @param {string | Uint8Array} body  the raw body exactly as received, before any JSON parsing
 * @param {{ nowSeconds?: number, toleranceSeconds?: number }} [options]
 * @returns {string | null}
 */
export function webhookProblem(secret, headers, body, options = {}) {
  const id = header(headers, 'webhook-id');
  const timestamp = header(headers, 'webhook-timestamp');
  const signatures = header(headers, 'webhook-signature');
  if (!id || !timestamp || !signatures) return 'missing webhook-id, webhook-timestamp or webhook-signature';

  if (!/^\d+$/.test(timestamp)) return 'webhook-timestamp is not Unix seconds';
  const now = options.nowSeconds ?? Math.floor(Date.now() / 1000);
  const tolerance = options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  if (Math.abs(now - Number(timestamp)) > tolerance) return 'webhook-timestamp too far from now';

  const key = Buffer.from(secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret, 'base64');
  const expected = createHmac('sha256', key)
    .update(`${id}.${timestamp}.`)
    .update(typeof body === 'string' ? Buffer.from(body, 'utf8') : body)
    .digest();

  // Several signatures may be sent (e.g. during a secret rotation); one match is enough.
  // Other versions (v1a: asymmetric) are not ours to check.
  for (const entry of signatures.split(' ')) {
    const [version, value] = entry.split(',', 2);
    if (version !== 'v1' || !value) continue;
    const given = Buffer.from(value, 'base64');
    if (given.length === expected.length && timingSafeEqual(given, expected)) return null;
  }
  return 'no matching v1 signature';
}

/** True when the delivery is authentic and recent. Same arguments as webhookProblem. */
export function verifyWebhook(secret, headers, body, options = {}) {
  return webhookProblem(secret, headers, body, options) === null;
}

function header(headers, name) {
  const value = typeof headers.get === 'function' ? headers.get(name) : headers[name];
  return Array.isArray(value) ? value[0] : (value ?? undefined);
}
