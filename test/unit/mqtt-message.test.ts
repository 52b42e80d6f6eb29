import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import mqttPacket from 'mqtt-packet';
import { PermanentError, RetriableError } from '../../src/errors.js';
import { fromConnackReasonCode, fromPublishReasonCode } from '../../src/sinks/mqtt/errors.js';
import { publishPacketBytes, toMqttMessage, topicProblem, type MqttMessage } from '../../src/sinks/mqtt/message.js';
import { userPropertyValue } from '../../src/sinks/mqtt/utf8-string.js';
import { channelEvent, rowEvent } from '../support/events.js';

const ctx = { database: 'shop' };
const DEFAULT_TOPIC = 'pgbridge/{schema}/{table}/{op}';

/** The PUBLISH packet as MQTT.js's own serializer writes it, for an independent byte count. */
function serialized(message: MqttMessage, messageId = 1): Buffer {
  return mqttPacket.generate(
    {
      cmd: 'publish',
      topic: message.topic,
      payload: message.payload,
      qos: 1,
      messageId,
      retain: false,
      dup: false,
      properties: { ...message.properties, userProperties: { ...message.properties.userProperties } },
    },
    { protocolVersion: 5 },
  );
}

describe('mqtt message mapping', () => {
  test('a row event: default topic, body as the format says, id/op/table user properties, JSON content type', () => {
    const event = rowEvent({ table: 'orders', op: 'UPDATE' });
    const message = toMqttMessage(event, { topic: DEFAULT_TOPIC, format: 'pgbridge' }, ctx);
    assert.equal(message.topic, 'pgbridge/public/orders/update');
    assert.equal(JSON.parse(message.payload.toString('utf8')).id, event.id);
    assert.deepEqual(message.properties, {
      payloadFormatIndicator: true,
      contentType: 'application/json',
      userProperties: { 'pgbridge-id': event.id, 'pgbridge-op': 'UPDATE', 'pgbridge-table': 'public.orders' },
    });
  });

  test('a channel event goes to its channel under the default template, with op NOTIFY and pgbridge-channel', () => {
    const event = channelEvent({ channel: 'jobs' });
    const message = toMqttMessage(event, { topic: DEFAULT_TOPIC, format: 'pgbridge' }, ctx);
    assert.equal(message.topic, 'jobs');
    assert.deepEqual(message.properties.userProperties, { 'pgbridge-id': event.id, 'pgbridge-op': 'NOTIFY', 'pgbridge-channel': 'jobs' });
  });

  test('cloudevents: ce-* user properties beside the event headers, data as the payload', () => {
    const event = rowEvent({ table: 'orders', key: '{"id":7}', data: '{"id":7}' });
    const message = toMqttMessage(event, { topic: DEFAULT_TOPIC, format: 'cloudevents' }, ctx);
    assert.equal(message.payload.toString('utf8'), '{"data":{"id":7},"old":null}');
    assert.deepEqual(message.properties.userProperties, {
      'pgbridge-id': event.id,
      'pgbridge-op': 'INSERT',
      'pgbridge-table': 'public.orders',
      'ce-specversion': '1.0',
      'ce-id': event.id,
      'ce-type': 'pgbridge.row.insert',
      'ce-source': '/pgbridge/shop/public.orders',
      'ce-subject': '7',
      'ce-time': event.ts,
    });
  });

  test('user property values: control characters, noncharacters and % as UTF-8 %XX, the rest (é, Ω, spaces) as it is', () => {
    assert.equal(userPropertyValue('public.café Ω 😀'), 'public.café Ω 😀');
    assert.equal(userPropertyValue('100%\n\t\u0000\u007f\u0085\ufdd0\uffff\u{10ffff}'), '100%25%0A%09%00%7F%C2%85%EF%B7%90%EF%BF%BF%F4%8F%BF%BF');
    for (const value of ['nl\nx', '%41', 'Ω-key\u0085', '/pgbridge/db/caf%C3%A9']) assert.equal(decodeURIComponent(userPropertyValue(value)), value);
  });

  test('topics MQTT forbids for a PUBLISH are named', () => {
    assert.equal(topicProblem('pgbridge/public/orders/insert'), undefined);
    assert.equal(topicProblem('/leading/slash and space'), undefined);
    assert.match(topicProblem('pgbridge/a+b/insert') ?? '', /wildcard/);
    assert.match(topicProblem('pgbridge/#') ?? '', /wildcard/);
    assert.match(topicProblem('') ?? '', /empty/);
    assert.equal(topicProblem('pgbridge/café/Ω 😀/insert'), undefined);
    for (const odd of ['a\u0000b', 'nl\nx', 'tab\tx', 'del\u007f', 'c1\u0085', 'x\ufdd0', 'x\uffff', 'x\u{10ffff}'])
      assert.match(topicProblem(odd) ?? '', /control character or a Unicode noncharacter/, JSON.stringify(odd));
    assert.match(topicProblem('x'.repeat(65_536)) ?? '', /over MQTT's 65535/);
  });

  test('the PUBLISH size is exact: equal to what the MQTT.js serializer writes, across the length-field boundaries', () => {
    for (const padding of [0, 10, 100, 16_000, 16_400, 70_000]) {
      for (const format of ['pgbridge', 'cloudevents'] as const) {
        const event = rowEvent({ table: 'sized', data: `{"pad":"${'é'.repeat(padding)}"}` });
        const message = toMqttMessage(event, { topic: DEFAULT_TOPIC, format }, ctx);
        assert.equal(publishPacketBytes(message), serialized(message).length, `${format}, ${padding} characters`);
      }
    }
  });
});

describe('mqtt reason codes', () => {
  test('PUBACK/PUBREC refusals of this very message are permanent, the rest retriable', () => {
    for (const code of [0x83, 0x87, 0x90, 0x95, 0x99]) assert.ok(fromPublishReasonCode(code, 't') instanceof PermanentError, code.toString(16));
    for (const code of [0x80, 0x91, 0x97]) {
      const err = fromPublishReasonCode(code, 't');
      assert.ok(err instanceof RetriableError && !(err instanceof PermanentError), code.toString(16));
    }
    assert.match(fromPublishReasonCode(0x87, 'a/b').message, /"a\/b": not authorized \(0x87\)/);
  });

  test('a refused CONNECT is retriable whatever the reason (an operator fixes credentials)', () => {
    for (const code of [0x86, 0x87, 0x89, 0x8a]) assert.ok(fromConnackReasonCode(code, 'sink') instanceof RetriableError);
    assert.match(fromConnackReasonCode(0x86, 'sink').message, /bad user name or password \(0x86\)/);
  });
});
