import assert from 'node:assert/strict';
import { test } from 'node:test';
import { toNatsMessage } from '../../src/sinks/nats/message.js';
import { channelEvent, rowEvent } from '../support/events.js';

const settings = { subject: 'pgbridge.{schema}.{table}.{op}', channelSubject: 'pgbridge.channel.{channel}' } as const;
const ctx = { database: 'shop' };

test('a row event: its subject, Nats-Msg-Id = event id, the event headers, the pgbridge body', () => {
  const event = rowEvent({ id: '42', table: 'orders', op: 'UPDATE', data: '{"id":7}', old: '{"id":7,"v":0}', key: '{"id":7}' });
  assert.deepEqual(toNatsMessage(event, { ...settings, format: 'pgbridge' }, ctx), {
    msgId: '42',
    orderKey: 'r:public.orders:{"id":7}',
    subject: 'pgbridge.public.orders.update',
    data: '{"id":"42","schema":"public","table":"orders","op":"UPDATE","data":{"id":7},"old":{"id":7,"v":0},"txid":"1000","ts":"2026-11-21T10:00:00.123456+00:00"}',
    headers: { 'pgbridge-id': '42', 'pgbridge-op': 'UPDATE', 'pgbridge-table': 'public.orders', 'content-type': 'application/json' },
  });
});

test('a channel event goes to channel_subject, with pgbridge-op NOTIFY and pgbridge-channel', () => {
  const message = toNatsMessage(channelEvent({ id: 'c-1', channel: 'jobs', payload: 'hi' }), { ...settings, format: 'skor' }, ctx);
  assert.equal(message.subject, 'pgbridge.channel.jobs');
  assert.equal(message.orderKey, undefined, 'channel messages go pipelined');
  assert.equal(message.data, '{"channel":"jobs","payload":"hi"}');
  assert.deepEqual(message.headers, {
    'pgbridge-id': 'c-1',
    'pgbridge-op': 'NOTIFY',
    'pgbridge-channel': 'jobs',
    'content-type': 'application/json',
  });
});

test('cloudevents: binary mode, ce-* headers beside the event headers, {"data","old"} as payload', () => {
  const event = rowEvent({ id: '9', table: 'orders', op: 'INSERT', data: '{"id":3}', key: '{"id":3}' });
  const message = toNatsMessage(event, { ...settings, format: 'cloudevents' }, ctx);
  assert.equal(message.data, '{"data":{"id":3},"old":null}');
  assert.deepEqual(message.headers, {
    'pgbridge-id': '9',
    'pgbridge-op': 'INSERT',
    'pgbridge-table': 'public.orders',
    'ce-specversion': '1.0',
    'ce-id': '9',
    'ce-time': '2026-11-21T10:00:00.123456+00:00',
    'ce-type': 'pgbridge.row.insert',
    'ce-source': '/pgbridge/shop/public.orders',
    'ce-subject': '3',
    'content-type': 'application/json',
  });
});
