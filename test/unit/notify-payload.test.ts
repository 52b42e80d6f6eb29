import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { PAYLOAD_SEPARATOR } from '../../src/schema/outbox.js';
import { parseKeptNotice, parseNotifyPayload } from '../../src/source/notify-payload.js';

const SEP = PAYLOAD_SEPARATOR;
const header = (extra: Record<string, unknown> = {}) =>
  JSON.stringify({ id: '17', schema: 'public', table: 'orders', op: 'UPDATE', txid: '981', ts: '2026-11-21T10:00:00.123456+00:00', ...extra });

describe('parseNotifyPayload', () => {
  test('header, key, data and old; key, data and old stay raw text', () => {
    const data = '{"id":9007199254740993,"n":1.50,"s":"a\\u0001b"}';
    const old = '{"id":9007199254740993,"n":1.00,"s":"x"}';
    const event = parseNotifyPayload([header(), '{"id":9007199254740993}', data, old].join(SEP));
    assert.deepEqual(event, {
      kind: 'row',
      id: '17',
      schema: 'public',
      table: 'orders',
      op: 'UPDATE',
      data,
      old,
      key: '{"id":9007199254740993}',
      txid: '981',
      ts: '2026-11-21T10:00:00.123456+00:00',
    });
  });

  test('an empty key (no primary key) and an empty old (INSERT) are null', () => {
    const event = parseNotifyPayload([header({ op: 'INSERT' }), '', '{"a":1}', ''].join(SEP));
    assert.equal(event?.key, null);
    assert.equal(event?.old, null);
    assert.equal(event?.op, 'INSERT');
  });

  test('names with quotes and separators-looking text in the header survive', () => {
    const event = parseNotifyPayload([header({ schema: 'Sales', table: 'x"; drop table y; --' }), '', '{}', ''].join(SEP));
    assert.equal(event?.table, 'x"; drop table y; --');
    assert.equal(event?.schema, 'Sales');
  });

  test('a numeric txid in the header becomes a string', () => {
    assert.equal(parseNotifyPayload([header({ txid: 981 }), '', '{}', ''].join(SEP))?.txid, '981');
  });

  test('anything else is not an event', () => {
    const bad = [
      '',
      'hello',
      '{"id":"1"}',
      [header(), '', '{}'].join(SEP), // three parts
      [header(), '', '{}', '', ''].join(SEP), // five parts
      ['not json', '', '{}', ''].join(SEP),
      [header({ op: 'MERGE' }), '', '{}', ''].join(SEP),
      [header({ id: 17 }), '', '{}', ''].join(SEP),
      [header({ table: null }), '', '{}', ''].join(SEP),
      [header(), '', '', ''].join(SEP), // no data
      ['null', '', '{}', ''].join(SEP),
    ];
    for (const payload of bad) assert.equal(parseNotifyPayload(payload), undefined, JSON.stringify(payload));
  });

  test("json_build_object's header shape (the triggers') reads the same as JSON.parse would, escapes and control characters included", () => {
    const pgHeader = (schema: string, table: string) =>
      `{"id" : "17", "schema" : ${JSON.stringify(schema)}, "table" : ${JSON.stringify(table)}, "op" : "DELETE", "txid" : "981", "ts" : "2026-11-21T10:00:00.123456+00:00"}`;
    for (const [schema, table] of [
      ['public', 'orders'],
      ['Sales', 'x"; drop table y; --'],
      ['s\\t', 'tab\there'],
      ['ünï', 'çödé'],
    ]) {
      const event = parseNotifyPayload([pgHeader(schema, table), '{"id":1}', '{"id":1}', '{"id":1}'].join(SEP));
      assert.deepEqual([event?.schema, event?.table, event?.op, event?.id, event?.txid], [schema, table, 'DELETE', '17', '981']);
    }
    const named = `{"id" : "17", "schema" : "public", "table" : "t", "op" : "INSERT", "txid" : "1", "ts" : "x", "instance" : "eu_2"}`;
    assert.equal(parseNotifyPayload([named, '', '{}', ''].join(SEP))?.fromInstance, 'eu_2', "the sender's instance, as triggers write it now");
    assert.equal(parseNotifyPayload([pgHeader('public', 't'), '', '{}', ''].join(SEP))?.fromInstance, undefined, 'a trigger from before');
    const raw = '{"id" : "17", "schema" : "a\tb", "table" : "t", "op" : "INSERT", "txid" : "1", "ts" : "x"}';
    assert.equal(parseNotifyPayload([raw, '', '{}', ''].join(SEP)), undefined, 'a raw control character is not JSON');
  });
});

describe('parseKeptNotice', () => {
  test('an event kept in the outbox table: its header and key, data and old empty; not an event', () => {
    const payload = [header(), '{"id":7}', '', ''].join(SEP);
    assert.equal(parseNotifyPayload(payload), undefined);
    const notice = parseKeptNotice(payload);
    assert.equal(notice?.anyRow, false);
    assert.deepEqual(
      [notice?.event.id, notice?.event.schema, notice?.event.table, notice?.event.op, notice?.event.key],
      ['17', 'public', 'orders', 'UPDATE', '{"id":7}'],
    );
  });

  test('a key too large to send is `*`: any row of the table; no key (no primary key) is the row without one', () => {
    assert.deepEqual(
      [parseKeptNotice([header(), '*', '', ''].join(SEP))?.anyRow, parseKeptNotice([header(), '*', '', ''].join(SEP))?.event.key],
      [true, null],
    );
    const keyless = parseKeptNotice([header(), '', '', ''].join(SEP));
    assert.deepEqual([keyless?.anyRow, keyless?.event.key], [false, null]);
  });

  test("backfill's --sink and the sender's instance travel in the notice too", () => {
    const notice = parseKeptNotice([header({ op: 'READ', instance: 'b', sink: 'hook' }), '{"id":7}', '', ''].join(SEP));
    assert.deepEqual([notice?.event.targetSink, notice?.event.fromInstance], ['hook', 'b']);
  });

  test('an event, or anything else, is not a kept notice', () => {
    for (const payload of [
      '',
      [header(), '{"id":7}', '{"id":7}', ''].join(SEP),
      [header(), '{"id":7}', '', '{"id":7}'].join(SEP),
      [header(), '{"id":7}', ''].join(SEP),
      ['not json', '{"id":7}', '', ''].join(SEP),
      ['null', '', '', ''].join(SEP),
      [header({ id: 'abc' }), '{"id":7}', '', ''].join(SEP),
    ]) {
      assert.equal(parseKeptNotice(payload), undefined, JSON.stringify(payload));
    }
  });
});
