import type { Options } from 'amqplib';
import type { BridgeEvent } from '../../event.js';
import { cloudEventAttributes, cloudEventData, encodeEvent, type FormatContext, type FormatName } from '../../formats/index.js';
import { renderTemplate } from '../../template.js';

/** One event as it goes on the wire. */
export interface AmqpMessage {
  readonly routingKey: string;
  readonly content: Buffer;
  readonly options: Options.Publish;
}

export interface MessageSettings {
  readonly routingKey: string;
  readonly format: FormatName;
}

/** Headers a consumer can filter on without parsing the body (same names as the Kafka sink). */
export function pgbridgeHeaders(event: BridgeEvent): Record<string, string> {
  if (event.kind === 'channel') return { 'pgbridge-id': event.id, 'pgbridge-channel': event.channel };
  return { 'pgbridge-id': event.id, 'pgbridge-op': event.op, 'pgbridge-table': `${event.schema}.${event.table}` };
}

/**
 * CloudEvents AMQP binding, binary mode: every attribute but datacontenttype
 * becomes a `cloudEvents:` application property (datacontenttype is the
 * content-type property). `time` goes as its canonical string, which the
 * binding allows and which keeps the microseconds an AMQP timestamp would drop.
 */
export function cloudEventHeaders(event: BridgeEvent, ctx: FormatContext): Record<string, string> {
  const { datacontenttype: _contentType, ...attributes } = cloudEventAttributes(event, ctx);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(attributes)) {
    if (value !== undefined) headers[`cloudEvents:${name}`] = value;
  }
  return headers;
}

export function toMessage(event: BridgeEvent, settings: MessageSettings, ctx: FormatContext): AmqpMessage {
  const cloudEvents = settings.format === 'cloudevents';
  const body = cloudEvents ? cloudEventData(event) : encodeEvent(event, settings.format, ctx);
  const headers = cloudEvents ? { ...pgbridgeHeaders(event), ...cloudEventHeaders(event, ctx) } : pgbridgeHeaders(event);
  return {
    routingKey: renderTemplate(settings.routingKey, event),
    content: Buffer.from(body, 'utf8'),
    options: {
      persistent: true,
      mandatory: true,
      contentType: 'application/json',
      messageId: event.id,
      appId: 'pgbridge',
      headers,
    },
  };
}
