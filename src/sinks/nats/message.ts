import type { BridgeEvent } from '../../event.js';
import { cloudEventAttributes, cloudEventData, encodeEvent, type FormatContext, type FormatName } from '../../formats/index.js';
import { renderTemplate } from '../../template.js';

/** One event as it goes to JetStream; the client adds Nats-Msg-Id = `msgId`. */
export interface NatsMessage {
  readonly msgId: string;
  readonly subject: string;
  readonly data: string;
  readonly headers: Readonly<Record<string, string>>;
}

export interface MessageSettings {
  /** Template for row events. */
  readonly subject: string;
  /** Template for channel events. */
  readonly channelSubject: string;
  readonly format: FormatName;
}

export function toNatsMessage(event: BridgeEvent, settings: MessageSettings, ctx: FormatContext): NatsMessage {
  const binaryCloudEvent = settings.format === 'cloudevents';
  return {
    msgId: event.id,
    subject: renderTemplate(event.kind === 'channel' ? settings.channelSubject : settings.subject, event),
    data: binaryCloudEvent ? cloudEventData(event) : encodeEvent(event, settings.format, ctx),
    headers: { ...bridgeHeaders(event), ...(binaryCloudEvent ? cloudEventHeaders(event, ctx) : { 'content-type': 'application/json' }) },
  };
}

/** The Kafka sink's headers: pgbridge-op is NOTIFY for channel events, which carry pgbridge-channel instead of pgbridge-table. */
function bridgeHeaders(event: BridgeEvent): Record<string, string> {
  if (event.kind === 'channel') return { 'pgbridge-id': event.id, 'pgbridge-op': 'NOTIFY', 'pgbridge-channel': event.channel };
  return { 'pgbridge-id': event.id, 'pgbridge-op': event.op, 'pgbridge-table': `${event.schema}.${event.table}` };
}

/**
 * CloudEvents NATS protocol binding, binary mode: the attributes as ce-*
 * headers (as in HTTP binary mode), datacontenttype as content-type, data as the payload.
 */
function cloudEventHeaders(event: BridgeEvent, ctx: FormatContext): Record<string, string> {
  const { datacontenttype, ...attributes } = cloudEventAttributes(event, ctx);
  const headers: Record<string, string> = { 'content-type': datacontenttype };
  for (const [name, value] of Object.entries(attributes)) {
    if (value !== undefined) headers[`ce-${name}`] = value;
  }
  return headers;
}
