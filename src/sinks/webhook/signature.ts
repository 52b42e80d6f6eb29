import { createHmac } from 'node:crypto';

/** Standard Webhooks: the key is the base64 after the optional whsec_ prefix (as the reference libraries read it). */
function secretKey(secret: string): Buffer {
  return Buffer.from(secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret, 'base64');
}

/** webhook-signature value: "v1,<base64 HMAC-SHA256 of id.timestamp.body>", one per secret, space-separated. */
export function signWebhook(secrets: readonly string[], id: string, timestamp: number, body: string): string {
  const content = `${id}.${timestamp}.${body}`;
  return secrets.map((secret) => `v1,${createHmac('sha256', secretKey(secret)).update(content).digest('base64')}`).join(' ');
}
