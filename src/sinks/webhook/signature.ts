import { createHmac } from 'node:crypto';
import { signingKey } from './secret.js';

/** webhook-signature value: "v1,<base64 HMAC-SHA256 of id.timestamp.body>", one per secret, space-separated. */
export function signWebhook(secrets: readonly string[], id: string, timestamp: number, body: string): string {
  const content = `${id}.${timestamp}.${body}`;
  return secrets.map((secret) => `v1,${createHmac('sha256', signingKey(secret)).update(content).digest('base64')}`).join(' ');
}
