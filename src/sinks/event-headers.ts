import type { BridgeEvent } from '../event.js';

/**
 * The headers every broker sink puts on a message, so that a consumer can
 * filter without parsing the body: `pgbridge-id`, `pgbridge-op` (INSERT,
 * UPDATE, DELETE; NOTIFY for a channel event, as its CloudEvents type
 * pgbridge.notify says) and `pgbridge-table` as schema.table, or
 * `pgbridge-channel` for a channel event.
 */
export function eventHeaders(event: BridgeEvent): Record<string, string> {
  if (event.kind === 'channel') return { 'pgbridge-id': event.id, 'pgbridge-op': 'NOTIFY', 'pgbridge-channel': event.channel };
  return { 'pgbridge-id': event.id, 'pgbridge-op': event.op, 'pgbridge-table': `${event.schema}.${event.table}` };
}
