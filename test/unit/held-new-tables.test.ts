import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, mock, test } from 'node:test';
import pino from 'pino';
import { loadConfig } from '../../src/config/load.js';
import type { BridgeConfig } from '../../src/config/types.js';
import { HeldNewTables } from '../../src/held-new-tables.js';
import { Router } from '../../src/router.js';
import { channelEvent, rowEvent } from '../support/events.js';

const file = path.join(mkdtempSync(path.join(tmpdir(), 'pgbridge-held-')), 'pgbridge.json');

/** Writes the config file (orders, and `also` when given, each routed to `hooks`) and loads it. */
function writeAndLoad(also?: string): BridgeConfig {
  const tables = ['public.orders', ...(also ? [also] : [])];
  writeFileSync(
    file,
    JSON.stringify({
      postgres: { url: 'postgres://postgres@127.0.0.1:5432/app' },
      capture: tables.map((table) => ({ table })),
      channels: [{ name: 'jobs' }],
      sinks: [{ name: 'hooks', type: 'stdout' }],
      routes: [...tables.map((table) => ({ from: { table }, to: ['hooks'] })), { from: { channel: 'jobs' }, to: ['hooks'] }],
    }),
  );
  return loadConfig(file, {});
}

function holding(config: BridgeConfig) {
  const restarts: BridgeConfig[] = [];
  let reads = 0;
  const routes = new HeldNewTables(
    config,
    new Router(config.routes, ['hooks']),
    {
      reread: () => {
        reads++;
        return loadConfig(file, {});
      },
      restart: (next) => restarts.push(next),
    },
    pino({ level: 'silent' }),
  );
  return { routes, restarts, reads: () => reads };
}

describe('HeldNewTables', () => {
  afterEach(() => mock.timers.reset());

  test('a table the running config captures goes by its routes, without reading the file', () => {
    const { routes, reads } = holding(writeAndLoad());
    assert.deepEqual(routes.sinksFor(rowEvent({ table: 'orders' })), ['hooks']);
    assert.deepEqual(routes.sinksFor(channelEvent({ channel: 'jobs' })), ['hooks']);
    assert.equal(reads(), 0);
  });

  test('a table the file now captures is held, and one restart is asked with the file read again', () => {
    const { routes, restarts, reads } = holding(writeAndLoad());
    writeAndLoad('public.items');
    assert.equal(routes.sinksFor(rowEvent({ table: 'items', op: 'INSERT' })), null);
    assert.equal(routes.sinksFor(rowEvent({ table: 'items', op: 'DELETE' })), null);
    assert.deepEqual(routes.sinksFor(rowEvent({ table: 'orders' })), ['hooks'], 'the known tables go on meanwhile');
    assert.equal(restarts.length, 1);
    assert.deepEqual(
      restarts[0].capture.map((t) => t.table),
      ['orders', 'items'],
    );
    assert.equal(reads(), 1, 'the file is read once per table');
  });

  test('a table the file lacks goes by the running routes (none here) until the file changes', () => {
    mock.timers.enable({ apis: ['Date'] });
    const { routes, restarts, reads } = holding(writeAndLoad());
    assert.deepEqual(routes.sinksFor(rowEvent({ table: 'items' })), []);
    mock.timers.tick(5000);
    assert.deepEqual(routes.sinksFor(rowEvent({ table: 'items' })), [], 'the file is the same: not read again');
    assert.equal(reads(), 1);
    writeAndLoad('public.items');
    assert.deepEqual(routes.sinksFor(rowEvent({ table: 'items' })), [], 'looked at no more than once a second');
    mock.timers.tick(1000);
    assert.equal(routes.sinksFor(rowEvent({ table: 'items' })), null, 'the file changed and captures it now');
    assert.equal(restarts.length, 1);
    assert.equal(reads(), 2);
  });

  test('a file that cannot be read: the events wait, and the file is tried again until delivery starts again with it', () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    const { routes, restarts } = holding(writeAndLoad());
    writeFileSync(file, '{ "postgres": ');
    assert.equal(routes.sinksFor(rowEvent({ table: 'items' })), null);
    mock.timers.tick(2000);
    assert.equal(restarts.length, 0, 'still unreadable');
    assert.equal(routes.sinksFor(rowEvent({ table: 'items' })), null);
    writeAndLoad();
    mock.timers.tick(2000);
    assert.equal(restarts.length, 1, 'read again: a restart, though the file lacks the table (the held events must go somewhere)');
  });

  test('a file read again after a failure that moves delivery elsewhere: the restart keeps the running config', () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    const running = writeAndLoad();
    const { routes, restarts } = holding(running);
    writeFileSync(file, '{ "postgres": ');
    assert.equal(routes.sinksFor(rowEvent({ table: 'items' })), null);
    assert.match(routes.readiness().config, /cannot be read again/);
    writeAndLoad('public.items');
    const text = JSON.parse(readFileSync(file, 'utf8')) as { instance?: string };
    text.instance = 'elsewhere';
    writeFileSync(file, JSON.stringify(text));
    mock.timers.tick(2000);
    assert.equal(restarts.length, 1);
    assert.equal(restarts[0], running, 'the held events are in this instance: the next run decides them again');
  });

  test('once delivery stops, a table not captured is held without reading the file', () => {
    const { routes, reads, restarts } = holding(writeAndLoad());
    writeAndLoad('public.items');
    routes.close();
    assert.equal(routes.sinksFor(rowEvent({ table: 'items' })), null);
    assert.equal(reads(), 0);
    assert.equal(restarts.length, 0);
  });

  test('a file that also moves delivery elsewhere (another database, instance, mode or slot) holds nothing', () => {
    const { routes, restarts } = holding(writeAndLoad());
    const moved = JSON.parse(readFileSync(file, 'utf8')) as { postgres: { url: string }; capture: unknown[] };
    moved.postgres.url = 'postgres://postgres@127.0.0.1:5432/other';
    moved.capture.push({ table: 'public.items' });
    writeFileSync(file, JSON.stringify(moved));
    assert.deepEqual(routes.sinksFor(rowEvent({ table: 'items' })), []);
    assert.equal(restarts.length, 0);
  });

  test('an event replayed to one sink goes there, whatever its table', () => {
    const { routes, reads } = holding(writeAndLoad());
    writeAndLoad('public.items');
    assert.deepEqual(routes.sinksFor(rowEvent({ table: 'items', targetSink: 'hooks' })), ['hooks']);
    assert.equal(reads(), 0);
  });

  test('the same table name in another schema is another table', () => {
    const { routes } = holding(writeAndLoad());
    writeAndLoad('sales.orders');
    assert.equal(routes.sinksFor(rowEvent({ schema: 'sales', table: 'orders' })), null);
  });

  test('"a.b".c and a."b.c" are two tables: what was decided for one is not the answer for the other', () => {
    const { routes, restarts } = holding(writeAndLoad());
    writeAndLoad('a."b.c"');
    assert.deepEqual(routes.sinksFor(rowEvent({ schema: 'a.b', table: 'c' })), [], 'the file lacks "a.b".c');
    assert.equal(routes.sinksFor(rowEvent({ schema: 'a', table: 'b.c' })), null, 'the file has a."b.c": held');
    assert.equal(restarts.length, 1);
  });
});
