import type { Options } from 'amqplib';
import type { BridgeEvent } from '../../event.js';
import { binaryCloudEvent, encodeEvent, type FormatContext, type FormatName } from '../../formats/index.js';
import { renderTemplate } from '../../template.js';
import { eventHeaders } from '../event-headers.js';

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

/**
 * CloudEvents go in the AMQP binding's binary mode: every attribute but
 * datacontenttype becomes a `cloudEvents:` application property
 * (datacontenttype is the content-type property). `time` goes as its
 * canonical string, which the binding allows and which keeps the microseconds
 * an AMQP timestamp would drop.
 */
export function toMessage(event: BridgeEvent, settings: MessageSettings, ctx: FormatContext): AmqpMessage {
  const cloudEvent = settings.format === 'cloudevents' ? binaryCloudEvent(event, ctx, 'cloudEvents:') : undefined;
  const body = cloudEvent ? cloudEvent.data : encodeEvent(event, settings.format, ctx);
  // Object.assign into the fresh header object, not a spread of both: the spread cost ~6 µs an event.
  const headers = cloudEvent ? Object.assign(eventHeaders(event), cloudEvent.attributes) : eventHeaders(event);
  return {
    routingKey: renderTemplate(settings.routingKey, event),
    content: Buffer.from(body, 'utf8'),
    options: {
      persistent: true,
      mandatory: true,
      contentType: cloudEvent?.contentType ?? 'application/json',
      messageId: event.id,
      appId: 'pgbridge',
      headers,
    },
  };
}
