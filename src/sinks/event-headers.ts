import type { BridgeEvent } from '../event.js';

const asIs = (value: string): string => value;

/**
 * The headers every broker sink puts on a message, so that a consumer can
 * filter without parsing the body: `pgbridge-id`, `pgbridge-op` (INSERT,
 * UPDATE, DELETE; NOTIFY for a channel event, as its CloudEvents type
 * pgbridge.notify says) and `pgbridge-table` as schema.table, or
 * `pgbridge-channel` for a channel event. `headerValue` makes a value fit
 * the protocol's headers (a quoted name can hold a line break).
 */
export function eventHeaders(event: BridgeEvent, headerValue = asIs): Record<string, string> {
  if (event.kind === 'channel')
    return { 'pgbridge-id': headerValue(event.id), 'pgbridge-op': 'NOTIFY', 'pgbridge-channel': headerValue(event.channel) };
  return { 'pgbridge-id': headerValue(event.id), 'pgbridge-op': event.op, 'pgbridge-table': headerValue(`${event.schema}.${event.table}`) };
}
