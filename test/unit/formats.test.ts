import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { orderingKey } from '../../src/event.js';
import { isJson, keyValues } from '../../src/formats/json-text.js';
import {
  channelPayloadJson,
  cloudEventAttributes,
  cloudEventData,
  cloudEventJson,
  encodeEvent,
  FORMAT_NAMES,
  pgbridgeJson,
  skorJson,
} from '../../src/formats/index.js';
import { cloudEventsHeaderValue } from '../../src/formats/percent-encoding.js';
import { channelEvent, rowEvent } from '../support/events.js';

const ctx = { database: 'shop' };
const TS = '2026-11-21T10:00:00.123456+00:00';
const BIG = '{"id":9007199254740993,"amount":123456789012345678901234567890.000001,"name":"😀 漢字"}';

describe('pgbridge format', () => {
  test('a row change, byte for byte, with the row JSON embedded as Postgres rendered it', () => {
    const event = rowEvent({ id: '42', table: 'orders', op: 'UPDATE', data: BIG, old: '{"id":9007199254740993}', txid: '1234', ts: TS });
    assert.equal(
      pgbridgeJson(event),
      `{"id":"42","schema":"public","table":"orders","op":"UPDATE","data":${BIG},"old":{"id":9007199254740993},"txid":"1234","ts":"${TS}"}`,
    );
  });

  test('schema, table, txid and ts quoted afresh whenever they change from one event to the next', () => {
    const texts = (['a', 'b"', 'a'] as const).map((t, i) =>
      pgbridgeJson(rowEvent({ id: String(i), schema: `s${t}`, table: t, txid: `${i}`, ts: `${TS}${t}`, data: '{}', old: null })),
    );
    assert.deepEqual(
      texts.map((text) => JSON.parse(text) as Record<string, unknown>).map(({ schema, table, txid, ts }) => [schema, table, txid, ts]),
      [
        ['sa', 'a', '0', `${TS}a`],
        ['sb"', 'b"', '1', `${TS}b"`],
        ['sa', 'a', '2', `${TS}a`],
      ],
    );
  });

  test('INSERT has old null; names with quotes are escaped', () => {
    const event = rowEvent({ id: '1', schema: 'Sa"les', table: 'x"; drop', op: 'INSERT', data: '{}', old: null, txid: '9', ts: TS });
    const text = pgbridgeJson(event);
    assert.equal(text, `{"id":"1","schema":"Sa\\"les","table":"x\\"; drop","op":"INSERT","data":{},"old":null,"txid":"9","ts":"${TS}"}`);
    assert.deepEqual(JSON.parse(text).table, 'x"; drop');
  });

  test('a channel message: payload as JSON when it parses, else as a string', () => {
    assert.equal(
      pgbridgeJson(channelEvent({ id: 'c1', channel: 'jobs', payload: '{"job":9007199254740993}', ts: TS })),
      `{"id":"c1","channel":"jobs","payload":{"job":9007199254740993},"ts":"${TS}"}`,
    );
    assert.equal(
      pgbridgeJson(channelEvent({ id: 'c2', channel: 'jobs', payload: 'plain "text"', ts: TS })),
      `{"id":"c2","channel":"jobs","payload":"plain \\"text\\"","ts":"${TS}"}`,
    );
    assert.equal(
      pgbridgeJson(channelEvent({ id: 'c3', channel: 'jobs', payload: '', ts: TS })),
      `{"id":"c3","channel":"jobs","payload":"","ts":"${TS}"}`,
    );
    assert.equal(
      pgbridgeJson(channelEvent({ id: 'c4', channel: 'jobs', payload: '42', ts: TS })),
      `{"id":"c4","channel":"jobs","payload":42,"ts":"${TS}"}`,
    );
  });
});

describe('skor format', () => {
  test("exactly skor's payload", () => {
    const event = rowEvent({ table: 'test_table', op: 'INSERT', data: '{"id":1,"name":"abc1"}', old: null });
    assert.equal(skorJson(event), '{"table":"test_table","schema":"public","op":"INSERT","data":{"id":1,"name":"abc1"}}');
    assert.equal(encodeEvent(event, 'skor', ctx), skorJson(event));
  });

  test('DELETE carries the old row as data (the event already holds it there); no id, old, txid or ts', () => {
    const event = rowEvent({ table: 't', op: 'DELETE', data: '{"id":1}', old: '{"id":1}' });
    assert.equal(skorJson(event), '{"table":"t","schema":"public","op":"DELETE","data":{"id":1}}');
  });

  test('a channel message: channel and payload only (JSON kept as JSON, text as a string), as the README shows', () => {
    assert.equal(skorJson(channelEvent({ id: 'c1', channel: 'jobs', payload: '{"a":1}', ts: TS })), '{"channel":"jobs","payload":{"a":1}}');
    assert.equal(skorJson(channelEvent({ id: 'c2', channel: 'jobs', payload: 'not json', ts: TS })), '{"channel":"jobs","payload":"not json"}');
  });
});

describe('cloudevents format', () => {
  test('structured mode: attributes and data as a JSON object (never a string)', () => {
    const event = rowEvent({
      id: '7',
      schema: 'public',
      table: 'orders',
      op: 'INSERT',
      data: BIG,
      old: null,
      key: '{"id":9007199254740993}',
      ts: TS,
    });
    const text = cloudEventJson(event, ctx);
    const { data, ...attributes } = JSON.parse(text) as Record<string, unknown>;
    assert.deepEqual(attributes, {
      specversion: '1.0',
      id: '7',
      type: 'pgbridge.row.insert',
      source: '/pgbridge/shop/public.orders',
      subject: '9007199254740993',
      time: TS,
      datacontenttype: 'application/json',
    });
    assert.ok(text.endsWith(`,"data":{"data":${BIG},"old":null}}`), 'row JSON embedded verbatim');
    assert.deepEqual(data, { data: JSON.parse(BIG), old: null });
    assert.equal(typeof JSON.parse(text).data, 'object');
  });

  test('type per op; subject of a composite key; no subject without a key', () => {
    assert.equal(cloudEventAttributes(rowEvent({ op: 'UPDATE' }), ctx).type, 'pgbridge.row.update');
    assert.equal(cloudEventAttributes(rowEvent({ op: 'DELETE' }), ctx).type, 'pgbridge.row.delete');
    assert.equal(cloudEventAttributes(rowEvent({ key: '{"region":"eu","id":9007199254740993}' }), ctx).subject, 'eu,9007199254740993');
    assert.equal('subject' in cloudEventAttributes(rowEvent({ key: null }), ctx), false);
  });

  test('channel events: type pgbridge.notify, source /pgbridge/<db>/channel/<channel>, data the payload', () => {
    const event = channelEvent({ id: 'c', channel: 'jobs', payload: '{"a":1}', ts: TS });
    const attributes = cloudEventAttributes(event, ctx);
    assert.equal(attributes.type, 'pgbridge.notify');
    assert.equal(attributes.source, '/pgbridge/shop/channel/jobs');
    assert.equal(cloudEventData(event), '{"a":1}');
    assert.equal(cloudEventData(channelEvent({ payload: 'text' })), '"text"');
  });

  test('every format name encodes, and each body is valid JSON', () => {
    assert.deepEqual([...FORMAT_NAMES], ['pgbridge', 'skor', 'cloudevents']);
    for (const format of FORMAT_NAMES) {
      for (const event of [rowEvent({ data: BIG }), channelEvent()]) JSON.parse(encodeEvent(event, format, ctx));
    }
  });
});

describe('header values of the CloudEvents HTTP and NATS bindings', () => {
  test("the binding's own example: space, € and 😀 as the UTF-8 bytes of each, upper-case %XX", () => {
    assert.equal(cloudEventsHeaderValue('Euro € 😀'), 'Euro%20%E2%82%AC%20%F0%9F%98%80');
  });

  test('printable ASCII stays as it is, but for space, " and %; control characters and Latin-1 letters are encoded', () => {
    assert.equal(
      cloudEventsHeaderValue("/pgbridge/shop/public.orders!#$&'()*+,-.:;<=>?@[\\]^_`{|}~"),
      "/pgbridge/shop/public.orders!#$&'()*+,-.:;<=>?@[\\]^_`{|}~",
    );
    assert.equal(cloudEventsHeaderValue('100% "q"\r\n\t\u0000\u007f é'), '100%25%20%22q%22%0D%0A%09%00%7F%20%C3%A9');
  });

  test('decodeURIComponent reads every value back', () => {
    for (const value of ['Ω-key', 'k é/1', '%41', 'a\nb', '😀,x', '\u0085\uffff'])
      assert.equal(decodeURIComponent(cloudEventsHeaderValue(value)), value);
  });
});

describe('JSON text helpers', () => {
  test('isJson', () => {
    for (const yes of ['{}', '[1]', '"s"', '1', 'true', 'null', ' {"a":1} ']) assert.equal(isJson(yes), true, yes);
    for (const no of ['', '   ', 'abc', '{', "{'a':1}", 'NaN']) assert.equal(isJson(no), false, no);
    assert.equal(channelPayloadJson('x'), '"x"');
  });

  test('keyValues keeps every digit and the column order', () => {
    assert.deepEqual(keyValues('{"id":9007199254740993}'), ['9007199254740993']);
    assert.deepEqual(keyValues('{"a":"x","b":123456789012345678901234567890,"c":true,"d":null}'), [
      'x',
      '123456789012345678901234567890',
      'true',
      'null',
    ]);
  });

  test('orderingKey: one key per row, per table without a primary key, per channel', () => {
    assert.equal(orderingKey(rowEvent({ key: '{"id":1}', op: 'INSERT' })), orderingKey(rowEvent({ key: '{"id":1}', op: 'DELETE' })));
    assert.notEqual(orderingKey(rowEvent({ key: '{"id":1}' })), orderingKey(rowEvent({ key: '{"id":2}' })));
    assert.equal(orderingKey(rowEvent({ key: null, data: '{"a":1}' })), orderingKey(rowEvent({ key: null, data: '{"a":2}' })));
    assert.notEqual(orderingKey(rowEvent({ table: 'a', key: '{"id":1}' })), orderingKey(rowEvent({ table: 'b', key: '{"id":1}' })));
    assert.equal(orderingKey(channelEvent({ channel: 'j', payload: '1' })), orderingKey(channelEvent({ channel: 'j', payload: '2' })));
  });
});
