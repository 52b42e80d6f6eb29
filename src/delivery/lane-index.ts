import type { BridgeEvent } from '../event.js';

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

function fnv(hash: number, text: string): number {
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, FNV_PRIME);
  }
  return hash;
}

/**
 * The lane of an event among `lanes`: FNV-1a (cheap and well spread, so rows
 * are balanced over lanes) of its orderingKey(), hashed part by part rather
 * than built as a string per event.
 */
export function laneIndex(event: BridgeEvent, lanes: number): number {
  if (lanes === 1) return 0;
  let hash: number;
  if (event.kind === 'channel') hash = fnv(fnv(FNV_OFFSET, 'c:'), event.channel);
  else hash = fnv(fnv(fnv(fnv(fnv(fnv(FNV_OFFSET, 'r:'), event.schema), '.'), event.table), ':'), event.key ?? '');
  return (hash >>> 0) % lanes;
}
