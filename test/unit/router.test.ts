import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { RouteOp } from '../../src/config/schema.js';
import type { Route } from '../../src/config/types.js';
import { Router } from '../../src/router.js';
import { channelEvent, rowEvent } from '../support/events.js';

const table = (name: string, to: string[], ops: RouteOp[] = ['insert', 'update', 'delete'], schema = 'public'): Route => ({
  from: { kind: 'table', table: { schema, table: name }, ops: new Set(ops) },
  to,
});
const channel = (name: string, to: string[]): Route => ({ from: { kind: 'channel', channel: name }, to });

describe('Router', () => {
  test('without routes every event goes to every sink, in config order', () => {
    const router = new Router(null, ['b', 'a', 'c']);
    assert.deepEqual(router.sinksFor(rowEvent()), ['b', 'a', 'c']);
    assert.deepEqual(router.sinksFor(channelEvent()), ['b', 'a', 'c']);
  });

  test('an event goes to the sinks of every route it matches, each once, in config order', () => {
    const router = new Router(
      [table('orders', ['hooks']), table('orders', ['kafka', 'hooks'], ['insert']), table('users', ['amqp']), channel('jobs', ['amqp'])],
      ['amqp', 'kafka', 'hooks'],
    );
    assert.deepEqual(router.sinksFor(rowEvent({ table: 'orders', op: 'INSERT' })), ['kafka', 'hooks']);
    assert.deepEqual(router.sinksFor(rowEvent({ table: 'orders', op: 'UPDATE' })), ['hooks']);
    assert.deepEqual(router.sinksFor(rowEvent({ table: 'users', op: 'DELETE' })), ['amqp']);
    assert.deepEqual(router.sinksFor(channelEvent({ channel: 'jobs' })), ['amqp']);
  });

  test('an event no route matches goes nowhere', () => {
    const router = new Router([table('orders', ['hooks'], ['insert']), channel('jobs', ['hooks'])], ['hooks']);
    assert.deepEqual(router.sinksFor(rowEvent({ table: 'orders', op: 'DELETE' })), []);
    assert.deepEqual(router.sinksFor(rowEvent({ table: 'other' })), []);
    assert.deepEqual(router.sinksFor(channelEvent({ channel: 'other' })), []);
  });

  test('schema and table are matched exactly: no case folding, no confusion between schemas', () => {
    const router = new Router([table('Orders', ['a'], undefined, 'Sales'), table('orders', ['b'])], ['a', 'b']);
    assert.deepEqual(router.sinksFor(rowEvent({ schema: 'Sales', table: 'Orders' })), ['a']);
    assert.deepEqual(router.sinksFor(rowEvent({ schema: 'sales', table: 'orders' })), []);
    assert.deepEqual(router.sinksFor(rowEvent({ schema: 'public', table: 'orders' })), ['b']);
    assert.deepEqual(router.sinksFor(rowEvent({ schema: 'public', table: 'Orders' })), []);
  });

  test('a table route does not match a channel of the same name, nor the other way round', () => {
    const router = new Router([table('jobs', ['t']), channel('orders', ['c'])], ['t', 'c']);
    assert.deepEqual(router.sinksFor(channelEvent({ channel: 'jobs' })), []);
    assert.deepEqual(router.sinksFor(rowEvent({ table: 'orders' })), []);
  });

  test('the cached answer is the same as the first one', () => {
    const router = new Router([table('orders', ['a'], ['insert'])], ['a']);
    for (let i = 0; i < 3; i++) {
      assert.deepEqual(router.sinksFor(rowEvent({ table: 'orders', op: 'INSERT' })), ['a']);
      assert.deepEqual(router.sinksFor(rowEvent({ table: 'orders', op: 'UPDATE' })), []);
    }
  });

  test('read and truncate are routed by ops like the others; a backfill --sink event goes to that sink only', () => {
    const router = new Router([table('orders', ['hooks'], ['insert', 'read']), table('orders', ['kafka'], ['truncate'])], ['kafka', 'hooks']);
    assert.deepEqual(router.sinksFor(rowEvent({ table: 'orders', op: 'READ' })), ['hooks']);
    assert.deepEqual(router.sinksFor(rowEvent({ table: 'orders', op: 'TRUNCATE', data: 'null', key: null })), ['kafka']);
    assert.deepEqual(router.sinksFor(rowEvent({ table: 'orders', op: 'READ', targetSink: 'kafka' })), ['kafka']);
    assert.deepEqual(router.sinksFor(rowEvent({ table: 'orders', op: 'READ', targetSink: 'gone' })), []);
  });
});
