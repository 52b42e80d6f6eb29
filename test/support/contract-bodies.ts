/**
 * What CONTRACT.md §3 says an event looks like at the far end, written out
 * here by hand from the contract, never computed by src/formats: a test that
 * compares with the project's own encoder cannot catch a wrong encoder.
 */
import { parse } from 'lossless-json';
import type { BridgeEvent } from '../../src/event.js';

/** A channel payload: the JSON value when it parses as JSON, else the payload as a JSON string. */
export function payloadText(payload: string): string {
  try {
    JSON.parse(payload);
    return payload;
  } catch {
    return JSON.stringify(payload);
  }
}

/** §3.1, the pgbridge format: {"id","schema","table","op","data","old","txid","ts"}, or {"id","channel","payload","ts"}. */
export function pgbridgeBody(event: BridgeEvent): string {
  if (event.kind === 'channel') {
    return `{"id":"${event.id}","channel":"${event.channel}","payload":${payloadText(event.payload)},"ts":"${event.ts}"}`;
  }
  return `{"id":"${event.id}","schema":"${event.schema}","table":"${event.table}","op":"${event.op}","data":${event.data},"old":${event.old ?? 'null'},"txid":"${event.txid}","ts":"${event.ts}"}`;
}

/** §3.2, skor's payload for rows; channel events keep skor's shape with channel and payload. */
export function skorBody(event: BridgeEvent): string {
  if (event.kind === 'channel') return `{"channel":"${event.channel}","payload":${payloadText(event.payload)}}`;
  return `{"table":"${event.table}","schema":"${event.schema}","op":"${event.op}","data":${event.data}}`;
}

/** §3.3, CloudEvents `data`: {"data":…,"old":…} for a row, the payload for a channel event. */
export function cloudEventDataBody(event: BridgeEvent): string {
  if (event.kind === 'channel') return payloadText(event.payload);
  return `{"data":${event.data},"old":${event.old ?? 'null'}}`;
}

/** §3.3, the CloudEvents attributes of an event from `database` (subject: the primary key values, comma-separated). */
export function cloudEventAttributesOf(event: BridgeEvent, database: string): Record<string, string> {
  const common = { specversion: '1.0', id: event.id, time: event.ts, datacontenttype: 'application/json' };
  if (event.kind === 'channel') return { ...common, type: 'pgbridge.notify', source: `/pgbridge/${database}/channel/${event.channel}` };
  const attributes: Record<string, string> = {
    ...common,
    type: `pgbridge.row.${event.op.toLowerCase()}`,
    source: `/pgbridge/${database}/${event.schema}.${event.table}`,
  };
  if (event.key !== null)
    attributes.subject = Object.values(parse(event.key) as Record<string, unknown>)
      .map(String)
      .join(',');
  return attributes;
}
