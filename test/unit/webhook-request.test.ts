import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, test } from 'node:test';
import type { WebhookSinkConfig } from '../../src/sinks/webhook/config.js';
import { checkWebhook } from '../../src/sinks/webhook/config.js';
import { buildRequest } from '../../src/sinks/webhook/request.js';
import { parseRetryAfter } from '../../src/sinks/webhook/retry-after.js';
import { signWebhook } from '../../src/sinks/webhook/signature.js';
import { channelEvent, rowEvent } from '../support/events.js';
import { sinkConfigKeys } from '../support/sink-config.js';

const ctx = { database: 'shop' };

/** A webhook sink config through the type's schema (check() is tested on its own below). */
function config(overrides: Partial<WebhookSinkConfig> = {}): WebhookSinkConfig {
  return sinkConfigKeys({
    name: 'hook',
    type: 'webhook',
    url: 'http://127.0.0.1/hook',
    timeout_ms: 1000,
    ...overrides,
  }) as unknown as WebhookSinkConfig;
}

describe('parseRetryAfter', () => {
  test('delta-seconds', () => {
    assert.equal(parseRetryAfter('1'), 1000);
    assert.equal(parseRetryAfter(' 120 '), 120_000);
    assert.equal(parseRetryAfter('0'), 0);
    assert.equal(parseRetryAfter(['3', '9']), 3000);
  });

  test('an HTTP date, from now; a past date is 0', () => {
    const now = Date.parse('2026-11-21T10:00:00Z');
    assert.equal(parseRetryAfter('Sat, 21 Nov 2026 10:00:30 GMT', now), 30_000);
    assert.equal(parseRetryAfter('Sat, 21 Nov 2026 09:00:00 GMT', now), 0);
  });

  test('absent or unreadable: undefined (the backoff applies)', () => {
    for (const value of [undefined, '', 'soon', '-1', '1.5']) assert.equal(parseRetryAfter(value), undefined, String(value));
  });
});

describe('signWebhook (Standard Webhooks)', () => {
  const key = Buffer.from('a secret key of some length');
  const secret = `whsec_${key.toString('base64')}`;

  test('v1,<base64 HMAC-SHA256 of "id.timestamp.body"> with the base64-decoded key', () => {
    const expected = createHmac('sha256', key).update('msg_1.1700000000.{"a":1}').digest('base64');
    assert.equal(signWebhook([secret], 'msg_1', 1700000000, '{"a":1}'), `v1,${expected}`);
  });

  test('one signature per secret, space-separated; a secret without the prefix is base64 too', () => {
    const other = Buffer.from('another key');
    const sig = signWebhook([secret, other.toString('base64')], 'id', 1, 'body');
    const parts = sig.split(' ');
    assert.equal(parts.length, 2);
    assert.equal(parts[1], `v1,${createHmac('sha256', other).update('id.1.body').digest('base64')}`);
  });

  test('any change to id, timestamp or body changes the signature', () => {
    const base = signWebhook([secret], 'id', 1, 'body');
    assert.notEqual(signWebhook([secret], 'id2', 1, 'body'), base);
    assert.notEqual(signWebhook([secret], 'id', 2, 'body'), base);
    assert.notEqual(signWebhook([secret], 'id', 1, 'body '), base);
  });
});

describe('buildRequest', () => {
  test('one event: its JSON, application/json, the event id as message id', () => {
    const event = rowEvent({ id: '5' });
    const req = buildRequest([event], config(), ctx);
    assert.equal(req.messageId, '5');
    assert.equal(req.headers['content-type'], 'application/json');
    assert.equal(JSON.parse(req.body).id, '5');
  });

  test('a batch: a JSON array; the message id is stable for the same batch', () => {
    const events = [rowEvent({ id: '1' }), rowEvent({ id: '2' }), channelEvent({ id: '3' })];
    const req = buildRequest(events, config({ batch: { max_events: 10, max_wait_ms: 0 } }), ctx);
    assert.deepEqual(
      (JSON.parse(req.body) as Array<{ id: string }>).map((e) => e.id),
      ['1', '2', '3'],
    );
    assert.equal(req.messageId, buildRequest(events, config({ batch: { max_events: 10, max_wait_ms: 0 } }), ctx).messageId);
    assert.notEqual(req.messageId, buildRequest(events.slice(0, 2), config({ batch: { max_events: 10, max_wait_ms: 0 } }), ctx).messageId);
  });

  test('a batch of one event (batching on): still an array', () => {
    const event = rowEvent({ id: '4' });
    const req = buildRequest([event], config({ batch: { max_events: 10, max_wait_ms: 0 } }), ctx);
    assert.equal(req.body, `[${buildRequest([event], config(), ctx).body}]`);
  });

  test('skor format: the skor body', () => {
    const req = buildRequest([rowEvent({ table: 't', data: '{"id":1}', op: 'INSERT' })], config({ format: 'skor' }), ctx);
    assert.equal(req.body, '{"table":"t","schema":"public","op":"INSERT","data":{"id":1}}');
  });

  test('cloudevents structured (one, and a batch) and binary mode', () => {
    const event = rowEvent({ id: '9', key: '{"id":9}' });
    const one = buildRequest([event], config({ format: 'cloudevents' }), ctx);
    assert.equal(one.headers['content-type'], 'application/cloudevents+json');
    assert.equal(JSON.parse(one.body).specversion, '1.0');
    const many = buildRequest([event, rowEvent()], config({ format: 'cloudevents', batch: { max_events: 5, max_wait_ms: 0 } }), ctx);
    assert.equal(many.headers['content-type'], 'application/cloudevents-batch+json');
    assert.equal((JSON.parse(many.body) as unknown[]).length, 2);
    const binary = buildRequest([event], config({ format: 'cloudevents', cloudevents_mode: 'binary' }), ctx);
    assert.equal(binary.headers['content-type'], 'application/json');
    assert.equal(binary.headers['ce-id'], '9');
    assert.equal(binary.headers['ce-specversion'], '1.0');
    assert.equal(binary.headers['ce-type'], 'pgbridge.row.insert');
    assert.equal(binary.headers['ce-subject'], '9');
    assert.deepEqual(Object.keys(JSON.parse(binary.body)), ['data', 'old']);
  });

  test('binary-mode CloudEvents refuse batches (config check)', () => {
    assert.deepEqual(checkWebhook(config()), []);
    const problems = checkWebhook(config({ format: 'cloudevents', cloudevents_mode: 'binary', batch: { max_events: 2, max_wait_ms: 0 } }));
    assert.deepEqual(
      problems.map((p) => p.path),
      ['batch.max_events'],
    );
  });
});
