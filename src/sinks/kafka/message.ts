import { orderingKey, type BridgeEvent } from '../../event.js';
import { binaryCloudEvent, encodeEvent, type BinaryCloudEvent, type FormatContext, type FormatName } from '../../formats/index.js';
import { renderTemplate } from '../../template.js';
import { eventHeaders } from '../event-headers.js';
import type { OutgoingMessage } from './producer.js';

export interface MessageSettings {
  readonly topic: string;
  /** Key template; null: the row's primary key JSON, no key for channel events. */
  readonly key: string | null;
  readonly format: FormatName;
}

export interface AddressedMessage {
  readonly eventId: string;
  readonly topic: string;
  readonly message: OutgoingMessage;
}

/** Kafka's rule for topic names. */
const LEGAL_TOPIC = /^[a-zA-Z0-9._-]{1,249}$/;

/** Why `topic` cannot be a Kafka topic, or undefined when it can. */
export function topicProblem(topic: string): string | undefined {
  if (LEGAL_TOPIC.test(topic) && topic !== '.' && topic !== '..') return undefined;
  return `topic ${JSON.stringify(topic)} is not a legal Kafka topic name (1 to 249 of a-z A-Z 0-9 . _ -); change the sink's topic template`;
}

/** CloudEvents go in the Kafka protocol binding's binary mode: attributes as ce_* headers, data as the value. */
export function toKafkaMessage(event: BridgeEvent, settings: MessageSettings, ctx: FormatContext): AddressedMessage {
  const cloudEvent = settings.format === 'cloudevents' ? binaryCloudEvent(event, ctx, 'ce_') : undefined;
  return {
    eventId: event.id,
    topic: renderTemplate(settings.topic, event),
    message: {
      key: messageKey(event, settings.key),
      value: cloudEvent ? cloudEvent.data : encodeEvent(event, settings.format, ctx),
      headers: cloudEvent ? cloudEventHeaders(event, cloudEvent) : eventHeaders(event),
      orderingKey: orderingKey(event),
    },
  };
}

/** The pgbridge headers, then the ce_* attributes and content-type; assigned into one fresh object (a spread of the three cost ~6 µs an event). */
function cloudEventHeaders(event: BridgeEvent, cloudEvent: BinaryCloudEvent): Record<string, string> {
  const headers = Object.assign(eventHeaders(event), cloudEvent.attributes);
  headers['content-type'] = cloudEvent.contentType;
  return headers;
}

function messageKey(event: BridgeEvent, template: string | null): string | null {
  if (template !== null) return renderTemplate(template, event);
  return event.kind === 'row' ? event.key : null;
}

/** Messages grouped by topic, each group in batch order (which keeps every key's order). */
export function groupByTopic(messages: readonly AddressedMessage[]): { topic: string; messages: OutgoingMessage[] }[] {
  const groups = new Map<string, OutgoingMessage[]>();
  for (const { topic, message } of messages) {
    const group = groups.get(topic);
    if (group) group.push(message);
    else groups.set(topic, [message]);
  }
  return [...groups].map(([topic, grouped]) => ({ topic, messages: grouped }));
}
