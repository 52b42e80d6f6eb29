import type { BridgeEvent, RowChangeEvent } from '../event.js';
import { lowerOp } from '../event.js';
import { cloudEventSource } from './cloudevent-source.js';
import { isJson, keyValues, quote } from './json-text.js';

export const FORMAT_NAMES = ['pgbridge', 'skor', 'cloudevents'] as const;
export type FormatName = (typeof FORMAT_NAMES)[number];

export interface FormatContext {
  /** Database name, for CloudEvents `source`. */
  readonly database: string;
}

/** Bodies are assembled as text so row JSON is embedded exactly as Postgres rendered it. */
export function channelPayloadJson(payload: string): string {
  return isJson(payload) ? payload : quote(payload);
}

/** quote() of the value it was last given again: consecutive events mostly share their table, txid and ts. */
class LastQuoted {
  private value = '';
  private quoted = '""';

  of(value: string): string {
    if (value !== this.value) {
      this.quoted = quote(value);
      this.value = value;
    }
    return this.quoted;
  }
}

const schemaText = new LastQuoted();
const tableText = new LastQuoted();
const txidText = new LastQuoted();
const tsText = new LastQuoted();

export function pgbridgeJson(event: BridgeEvent): string {
  if (event.kind === 'channel') {
    return `{"id":${quote(event.id)},"channel":${quote(event.channel)},"payload":${channelPayloadJson(event.payload)},"ts":${quote(event.ts)}}`;
  }
  const [head, between, tail] = pgbridgeJsonAround(event);
  return `${head}${event.data}${between}${event.old ?? 'null'}${tail}`;
}

/**
 * pgbridgeJson of a row event but its data and old: what goes before data,
 * between data and old, and after old. For an event too large for one string
 * (data and old over 512 MB together), put together by Postgres instead.
 */
export function pgbridgeJsonAround(event: RowChangeEvent): readonly [head: string, between: string, tail: string] {
  return [
    `{"id":${quote(event.id)},"schema":${schemaText.of(event.schema)},"table":${tableText.of(event.table)},"op":"${event.op}","data":`,
    ',"old":',
    `,"txid":${txidText.of(event.txid)},"ts":${tsText.of(event.ts)}}`,
  ];
}

/** skor's payload, byte for byte: {"table":…,"schema":…,"op":…,"data":…}. */
export function skorJson(event: BridgeEvent): string {
  if (event.kind === 'channel') {
    // skor never forwarded raw channels; keep the shape a skor consumer can read.
    return `{"channel":${quote(event.channel)},"payload":${channelPayloadJson(event.payload)}}`;
  }
  return `{"table":${quote(event.table)},"schema":${quote(event.schema)},"op":"${event.op}","data":${event.data}}`;
}

export interface CloudEventAttributes {
  readonly specversion: '1.0';
  readonly id: string;
  readonly type: string;
  readonly source: string;
  readonly subject?: string;
  readonly time: string;
  readonly datacontenttype: 'application/json';
}

export function cloudEventAttributes(event: BridgeEvent, ctx: FormatContext): CloudEventAttributes {
  // Plain literals, no spreads: this runs once per event, and the spread version cost 4-5 µs of it.
  if (event.kind === 'channel') {
    const source = cloudEventSource(event, ctx.database);
    return { specversion: '1.0', id: event.id, time: event.ts, datacontenttype: 'application/json', type: 'pgbridge.notify', source };
  }
  const type = `pgbridge.row.${lowerOp(event.op)}`;
  const source = cloudEventSource(event, ctx.database);
  const subject = cloudEventSubject(event);
  if (subject === undefined) return { specversion: '1.0', id: event.id, time: event.ts, datacontenttype: 'application/json', type, source };
  return { specversion: '1.0', id: event.id, time: event.ts, datacontenttype: 'application/json', type, source, subject };
}

/** The primary key value(s), comma-separated for a composite key. */
function cloudEventSubject(event: RowChangeEvent): string | undefined {
  return event.key === null ? undefined : keyValues(event.key).join(',');
}

/** CloudEvents `data`: {"data":…,"old":…} for rows, the payload for channels. */
export function cloudEventData(event: BridgeEvent): string {
  if (event.kind === 'channel') return channelPayloadJson(event.payload);
  return `{"data":${event.data},"old":${event.old ?? 'null'}}`;
}

/** A CloudEvent in a protocol binding's binary mode. */
export interface BinaryCloudEvent {
  /** Every attribute but datacontenttype, each under `prefix` + its name (ce-id, ce_id, cloudEvents:id, …). */
  readonly attributes: Readonly<Record<string, string>>;
  /** datacontenttype, which every binding carries as its own content type. */
  readonly contentType: string;
  /** The message body. */
  readonly data: string;
}

/** Every attribute but datacontenttype (the binding's own content type), in the order they go on the wire. */
export const BINARY_ATTRIBUTES = ['specversion', 'id', 'time', 'type', 'source', 'subject'] as const satisfies ReadonlyArray<
  keyof CloudEventAttributes
>;

const asIs = (value: string): string => value;

/**
 * The one attribute mapping of every binary-mode binding; the prefix differs
 * by protocol, and so does what a value must become to fit in a header
 * (`headerValue`: percent-encoding for HTTP and NATS, nothing for Kafka's bytes).
 */
export function binaryCloudEvent(event: BridgeEvent, ctx: FormatContext, prefix: string, headerValue = asIs): BinaryCloudEvent {
  const all = cloudEventAttributes(event, ctx);
  const attributes: Record<string, string> = {};
  for (const name of BINARY_ATTRIBUTES) {
    const value = all[name];
    if (value !== undefined) attributes[`${prefix}${name}`] = headerValue(value);
  }
  return { attributes, contentType: all.datacontenttype, data: cloudEventData(event) };
}

/** Structured-mode CloudEvent: attributes and data in one JSON object. */
export function cloudEventJson(event: BridgeEvent, ctx: FormatContext): string {
  const attributes = cloudEventAttributes(event, ctx);
  const head = Object.entries(attributes)
    .map(([name, value]) => `${quote(name)}:${quote(value as string)}`)
    .join(',');
  return `{${head},"data":${cloudEventData(event)}}`;
}

/** The JSON body of one event in the sink's format (CloudEvents: structured mode). */
export function encodeEvent(event: BridgeEvent, format: FormatName, ctx: FormatContext): string {
  switch (format) {
    case 'pgbridge':
      return pgbridgeJson(event);
    case 'skor':
      return skorJson(event);
    case 'cloudevents':
      return cloudEventJson(event, ctx);
  }
}
