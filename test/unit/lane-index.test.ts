import assert from 'node:assert/strict';
import { test } from 'node:test';
import { laneIndex } from '../../src/delivery/lane-index.js';
import { orderingKey, type BridgeEvent } from '../../src/event.js';

const fnv1a = (text: string): number => {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return hash >>> 0;
};

test('laneIndex is FNV-1a of the ordering key, so events of one row (or channel) share a lane', () => {
  const row = (table: string, key: string | null): BridgeEvent => ({
    kind: 'row',
    id: '1',
    schema: 'public',
    table,
    op: 'INSERT',
    data: '{}',
    old: null,
    key,
    txid: '1',
    ts: 'x',
  });
  const events: BridgeEvent[] = [
    row('orders', '{"id":1}'),
    row('orders', '{"id":2}'),
    row('Örders', '{"id":"ü"}'),
    row('orders', null),
    { kind: 'channel', id: 'u', channel: 'jobs', payload: 'p', ts: 'x' },
  ];
  for (let i = 0; i < 200; i++) events.push(row(`t${i % 7}`, `{"id":${i}}`));
  for (const lanes of [1, 2, 3, 4, 7]) {
    for (const event of events) assert.equal(laneIndex(event, lanes), fnv1a(orderingKey(event)) % lanes);
  }
});
