import { createHmac } from 'node:crypto';

/** Standard Webhooks: whsec_<base64> secrets; a secret without the prefix is used as raw bytes. */
function secretKey(secret: string): Buffer {
  return secret.startsWith('whsec_') ? Buffer.from(secret.slice('whsec_'.length), 'base64') : Buffer.from(secret, 'utf8');
}

/** webhook-signature value: "v1,<base64 HMAC-SHA256 of id.timestamp.body>", one per secret, space-separated. */
export function signWebhook(secrets: readonly string[], id: string, timestamp: number, body: string): string {
  const content = `${id}.${timestamp}.${body}`;
  return secrets.map((secret) => `v1,${createHmac('sha256', secretKey(secret)).update(content).digest('base64')}`).join(' ');
}
