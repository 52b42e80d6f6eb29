import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RowChangeEvent } from '../../src/event.js';
import { OwnEvents } from '../../src/source/own-events.js';

const event = (table: string, fromInstance?: string): RowChangeEvent => ({
  kind: 'row',
  id: '1',
  schema: 'public',
  table,
  op: 'UPDATE',
  data: '{}',
  old: null,
  key: null,
  txid: '1',
  ts: '',
  ...(fromInstance === undefined ? {} : { fromInstance }),
});

test("an event naming an instance is that instance's, whatever its table; one naming none is this instance's when it captures the table", () => {
  const own = new OwnEvents('a', [
    { schema: 'public', table: 'bn' },
    { schema: 'public', table: 'shared' },
  ]);
  assert.equal(own.has(event('bn', 'a')), true);
  assert.equal(own.has(event('added_since_start', 'a')), true, 'a table an install added while the bridge runs');
  assert.equal(own.has(event('shared', 'b')), false, "b's trigger on a table a captures too: a's own trigger sends a's");
  assert.equal(own.has(event('bnc', 'b')), false);
  assert.equal(own.has(event('bn')), true, 'from a trigger installed before events named their instance');
  assert.equal(own.has(event('bnc')), false);
});
