import type { ChannelEvent, RowChangeEvent, RowOp } from '../../src/event.js';

let next = 1;

/** A row event as a source would produce it; `data`/`old`/`key` are raw JSON text. */
export function rowEvent(overrides: Partial<RowChangeEvent> & { op?: RowOp } = {}): RowChangeEvent {
  const id = String(next++);
  const op = overrides.op ?? 'INSERT';
  return {
    kind: 'row',
    id,
    schema: 'public',
    table: 'orders',
    op,
    data: `{"id":${id},"status":"new"}`,
    old: op === 'INSERT' ? null : `{"id":${id},"status":"old"}`,
    key: `{"id":${id}}`,
    txid: '1000',
    ts: '2026-11-21T10:00:00.123456+00:00',
    ...overrides,
  };
}

export function channelEvent(overrides: Partial<ChannelEvent> = {}): ChannelEvent {
  return {
    kind: 'channel',
    id: `c-${next++}`,
    channel: 'jobs',
    payload: '{"a":1}',
    ts: '2026-11-21T10:00:00.123456+00:00',
    ...overrides,
  };
}
