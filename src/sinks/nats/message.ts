import type { BridgeEvent } from '../../event.js';
import { rowToKeepInOrder } from '../row-order.js';
import { binaryCloudEvent, encodeEvent, type FormatContext, type FormatName } from '../../formats/index.js';
import { cloudEventsHeaderValue } from '../../formats/percent-encoding.js';
import { renderTemplate } from '../../template.js';
import { eventHeaders } from '../event-headers.js';

/** One event as it goes to JetStream; the client adds Nats-Msg-Id = `msgId`. */
export interface NatsMessage {
  readonly msgId: string;
  /** Its row, when it has a primary key: messages of one are stored in batch order. */
  readonly orderKey: string | undefined;
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

/**
 * The event headers, and for `cloudevents` the CloudEvents NATS binding's
 * binary mode: attributes as ce-* headers (as in HTTP binary mode),
 * datacontenttype as content-type, data as the payload. Every pgbridge-* and
 * ce-* value is percent-encoded as that binding says (v1.0.3 §3.1.3.2, the
 * HTTP binding's rule): NATS headers are HTTP-like lines, which a line break
 * in a table name or key would end, and the client trims the spaces around a value.
 */
export function toNatsMessage(event: BridgeEvent, settings: MessageSettings, ctx: FormatContext): NatsMessage {
  const subject = renderTemplate(event.kind === 'channel' ? settings.channelSubject : settings.subject, event);
  if (settings.format === 'cloudevents') {
    const cloudEvent = binaryCloudEvent(event, ctx, 'ce-', cloudEventsHeaderValue);
    return {
      msgId: event.id,
      orderKey: rowToKeepInOrder(event),
      subject,
      data: cloudEvent.data,
      headers: { ...eventHeaders(event, cloudEventsHeaderValue), ...cloudEvent.attributes, 'content-type': cloudEvent.contentType },
    };
  }
  return {
    msgId: event.id,
    orderKey: rowToKeepInOrder(event),
    subject,
    data: encodeEvent(event, settings.format, ctx),
    headers: { ...eventHeaders(event, cloudEventsHeaderValue), 'content-type': 'application/json' },
  };
}
