import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CloudEvent, HTTP, Kafka, type CloudEventV1 } from 'cloudevents';
import type { BridgeEvent } from '../../src/event.js';
import { binaryCloudEvent, cloudEventAttributes, cloudEventJson, type FormatContext } from '../../src/formats/index.js';
import { toMessage as toAmqpMessage } from '../../src/sinks/amqp/message.js';
import { toKafkaMessage } from '../../src/sinks/kafka/message.js';
import { toMqttMessage } from '../../src/sinks/mqtt/message.js';
import { toNatsMessage } from '../../src/sinks/nats/message.js';
import { toStreamEntry } from '../../src/sinks/redis/entry.js';
import type { WebhookSinkConfig } from '../../src/sinks/webhook/config.js';
import { buildRequest } from '../../src/sinks/webhook/request.js';
import { channelEvent, rowEvent } from '../support/events.js';
import { sinkConfigKeys } from '../support/sink-config.js';

interface Case {
  readonly name: string;
  readonly event: BridgeEvent;
  readonly ctx: FormatContext;
  /** CONTRACT §3.3's source, each name percent-encoded on its own, written out by hand. */
  readonly source: string;
}

const shop = { database: 'shop' };

const CASES: readonly Case[] = [
  { name: 'plain names, unchanged', event: rowEvent({ schema: 'public', table: 'orders' }), ctx: shop, source: '/pgbridge/shop/public.orders' },
  { name: 'an unquoted name with $, unchanged', event: rowEvent({ table: 'price$eur' }), ctx: shop, source: '/pgbridge/shop/public.price$eur' },
  {
    name: 'what a path segment allows, unchanged',
    event: rowEvent({ table: "a&b+c,d;e=f:g@h!i'j(k)l*m~n-o" }),
    ctx: shop,
    source: "/pgbridge/shop/public.a&b+c,d;e=f:g@h!i'j(k)l*m~n-o",
  },
  { name: 'a space', event: rowEvent({ schema: 'Sales', table: 'Order Items' }), ctx: shop, source: '/pgbridge/shop/Sales.Order%20Items' },
  { name: 'quotes', event: rowEvent({ table: `it's "x"` }), ctx: shop, source: `/pgbridge/shop/public.it's%20%22x%22` },
  { name: 'non-ASCII', event: rowEvent({ schema: 'münchen', table: 'café' }), ctx: shop, source: '/pgbridge/shop/m%C3%BCnchen.caf%C3%A9' },
  { name: 'a percent sign', event: rowEvent({ table: '100%' }), ctx: shop, source: '/pgbridge/shop/public.100%25' },
  { name: 'a percent sign before hex digits', event: rowEvent({ table: '%24' }), ctx: shop, source: '/pgbridge/shop/public.%2524' },
  { name: 'a slash', event: rowEvent({ schema: 'a/b', table: 'c/d' }), ctx: shop, source: '/pgbridge/shop/a%2Fb.c%2Fd' },
  { name: 'a dot inside quoted names', event: rowEvent({ schema: 'v1.2', table: 'x.y' }), ctx: shop, source: '/pgbridge/shop/v1.2.x.y' },
  { name: 'an odd database name', event: rowEvent({ table: 'orders' }), ctx: { database: 'my db%' }, source: '/pgbridge/my%20db%25/public.orders' },
  { name: 'a plain channel', event: channelEvent({ channel: 'jobs' }), ctx: shop, source: '/pgbridge/shop/channel/jobs' },
  {
    name: 'an odd channel',
    event: channelEvent({ channel: 'café/jobs 100%' }),
    ctx: shop,
    source: '/pgbridge/shop/channel/caf%C3%A9%2Fjobs%20100%25',
  },
];

/** The SDK's own reading of an event, validated: validate() throws on any invalid attribute. */
function validated(event: CloudEventV1<unknown> | CloudEventV1<unknown>[]): CloudEvent<unknown> {
  assert.ok(event instanceof CloudEvent);
  assert.equal(event.validate(), true);
  return event;
}

function webhookConfig(overrides: Partial<WebhookSinkConfig>): WebhookSinkConfig {
  return sinkConfigKeys({
    name: 'hook',
    type: 'webhook',
    url: 'http://127.0.0.1/hook',
    format: 'cloudevents',
    ...overrides,
  }) as unknown as WebhookSinkConfig;
}

/** The `source` each sink binding carries for one event, as its consumer reads it: the ce-* values of HTTP binary mode, NATS and MQTT after one round of percent-decoding. */
function sourcesOnTheWire(event: BridgeEvent, ctx: FormatContext): Record<string, string | undefined> {
  const structured = (body: string): string => (JSON.parse(body) as { source: string }).source;
  const binaryWebhook = buildRequest([event], webhookConfig({ cloudevents_mode: 'binary' }), ctx);
  const kafka = toKafkaMessage(event, { topic: 't', key: null, format: 'cloudevents' }, ctx);
  const amqp = toAmqpMessage(event, { routingKey: 'k', format: 'cloudevents', mandatory: true }, ctx);
  const nats = toNatsMessage(event, { subject: 's', channelSubject: 's', format: 'cloudevents' }, ctx);
  const mqtt = toMqttMessage(event, { topic: 't', format: 'cloudevents' }, ctx);
  const redis = toStreamEntry(event, { stream: 's', format: 'cloudevents' }, ctx);
  return {
    'webhook structured': structured(buildRequest([event], webhookConfig({}), ctx).body),
    'webhook binary': decodeURIComponent(binaryWebhook.headers['ce-source']),
    kafka: kafka.message.headers['ce_source'],
    amqp: amqp.options.headers?.['cloudEvents:source'] as string | undefined,
    nats: decodeURIComponent(nats.headers['ce-source']),
    mqtt: decodeURIComponent(mqtt.properties.userProperties['ce-source']),
    redis: structured(redis.fields.event),
  };
}

describe('CloudEvents source: a URI-reference whatever the names', () => {
  for (const { name, event, ctx, source } of CASES) {
    test(`${name}: ${source}`, () => {
      assert.equal(cloudEventAttributes(event, ctx).source, source);

      const structured = validated(HTTP.toEvent({ headers: { 'content-type': 'application/cloudevents+json' }, body: cloudEventJson(event, ctx) }));
      assert.equal(structured.source, source);

      const http = binaryCloudEvent(event, ctx, 'ce-');
      const binary = validated(HTTP.toEvent({ headers: { ...http.attributes, 'content-type': http.contentType }, body: http.data }));
      assert.equal(binary.source, source);

      const kafka = binaryCloudEvent(event, ctx, 'ce_');
      const kafkaRecord = { headers: { ...kafka.attributes, 'content-type': kafka.contentType }, key: '', value: kafka.data, body: kafka.data };
      const kafkaEvent = validated(Kafka.toEvent(kafkaRecord));
      assert.equal(kafkaEvent.source, source);
    });
  }

  test('every sink binding carries the same source', () => {
    for (const { name, event, ctx, source } of CASES) {
      const wire = sourcesOnTheWire(event, ctx);
      assert.deepEqual(wire, Object.fromEntries(Object.keys(wire).map((binding) => [binding, source])), name);
    }
  });
});
