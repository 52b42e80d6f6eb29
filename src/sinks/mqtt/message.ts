import type { BridgeEvent } from '../../event.js';
import { rowToKeepInOrder } from '../row-order.js';
import { binaryCloudEvent, encodeEvent, type FormatContext, type FormatName } from '../../formats/index.js';
import { renderTemplate } from '../../template.js';
import { eventHeaders } from '../event-headers.js';
import { beyondMqttStrings, userPropertyValue } from './utf8-string.js';

/** MQTT 5 PUBLISH properties the sink sets. */
export interface PublishProperties {
  readonly payloadFormatIndicator: true;
  readonly contentType: 'application/json';
  readonly userProperties: Readonly<Record<string, string>>;
}

/** One event as it goes on the wire. */
export interface MqttMessage {
  readonly eventId: string;
  /** Its row, when it has a primary key: messages of one are acknowledged in batch order. */
  readonly orderKey: string | undefined;
  readonly topic: string;
  readonly payload: Buffer;
  readonly properties: PublishProperties;
}

export interface MessageSettings {
  readonly topic: string;
  readonly format: FormatName;
}

/**
 * One event as a PUBLISH. CloudEvents in binary mode: every attribute but
 * datacontenttype as a `ce-` user property (the names the HTTP binding gives
 * its headers), datacontenttype as the MQTT 5 Content Type, the data as payload.
 * Every user property value is percent-encoded where an MQTT string could not carry it.
 */
export function toMqttMessage(event: BridgeEvent, settings: MessageSettings, ctx: FormatContext): MqttMessage {
  const cloudEvent = settings.format === 'cloudevents' ? binaryCloudEvent(event, ctx, 'ce-', userPropertyValue) : undefined;
  const body = cloudEvent?.data ?? encodeEvent(event, settings.format, ctx);
  const userProperties = { ...eventHeaders(event, userPropertyValue), ...cloudEvent?.attributes };
  return {
    eventId: event.id,
    orderKey: rowToKeepInOrder(event),
    topic: renderTemplate(settings.topic, event),
    payload: Buffer.from(body, 'utf8'),
    properties: { payloadFormatIndicator: true, contentType: 'application/json', userProperties },
  };
}

const MAX_TOPIC_BYTES = 65535;

/**
 * Why `topic` cannot be published to, or undefined when it can. The broker
 * does not refuse such a PUBLISH: it closes the connection (Mosquitto:
 * DISCONNECT 0x82 protocol error for a wildcard, a plain close for a control
 * character), with every other unacknowledged message on it.
 */
export function topicProblem(topic: string): string | undefined {
  if (topic === '') return 'the topic template gave an empty topic';
  if (topic.includes('+') || topic.includes('#'))
    return `topic ${JSON.stringify(topic)} has a wildcard (+ or #), which MQTT allows only in subscriptions; change the sink's topic template`;
  if (beyondMqttStrings(topic))
    return `topic ${JSON.stringify(topic)} holds a control character or a Unicode noncharacter, which MQTT strings cannot carry; change the sink's topic template`;
  if (Buffer.byteLength(topic) > MAX_TOPIC_BYTES) return `topic is ${Buffer.byteLength(topic)} bytes, over MQTT's ${MAX_TOPIC_BYTES}`;
  return undefined;
}

/** Bytes of an MQTT variable byte integer. */
const varIntBytes = (n: number): number => (n < 128 ? 1 : n < 16_384 ? 2 : n < 2_097_152 ? 3 : 4);
const utf8Field = (text: string): number => 2 + Buffer.byteLength(text);

/** The exact size of this message's PUBLISH packet at QoS 1 or 2 (MQTT 5 §3.3), to hold it against the broker's Maximum Packet Size. */
export function publishPacketBytes(message: MqttMessage): number {
  let properties = 2 + 1 + utf8Field(message.properties.contentType); // payload format indicator, content type
  for (const [name, value] of Object.entries(message.properties.userProperties)) properties += 1 + utf8Field(name) + utf8Field(value);
  const remaining = utf8Field(message.topic) + 2 + varIntBytes(properties) + properties + message.payload.length;
  return 1 + varIntBytes(remaining) + remaining;
}
