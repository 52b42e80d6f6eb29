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

/**
 * Row events whose names and key no header carries as they are: a line break
 * and other control characters, a noncharacter, spaces, %, " and non-ASCII
 * letters, all of which a quoted Postgres name or a text key may hold.
 */
export function oddlyNamedRows(): { readonly broken: RowChangeEvent; readonly odd: RowChangeEvent } {
  return {
    broken: rowEvent({ table: 'nl\nx', key: '{"k":"a\\r\\n\\u0085b\\uffff"}' }),
    odd: rowEvent({ schema: 'münchen', table: ' 100% "q" Ω', key: '{"k":"Ω-key é"}' }),
  };
}

/** The CloudEvents subjects of [any, broken, odd] from oddlyNamedRows(): their keys' values. */
export const ODD_SUBJECTS = ['', 'a\r\n\u0085b\uffff', 'Ω-key é'] as const;
