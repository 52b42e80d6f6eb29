import type { BridgeEvent } from '../../event.js';
import { encodeEvent, type FormatContext, type FormatName } from '../../formats/index.js';
import { renderTemplate } from '../../template.js';

export interface EntrySettings {
  readonly stream: string;
  readonly format: FormatName;
}

/** One XADD: the stream key and the entry's fields, in the order they are written. */
export interface StreamEntry {
  readonly eventId: string;
  readonly stream: string;
  readonly fields: Readonly<Record<string, string>>;
}

/**
 * Fields a consumer can filter on without parsing `event`: `id` (the event id,
 * the same on every redelivery, so consumers deduplicate by it), `op`, and
 * `table` ("schema.table") or `channel`. `event` is the formatted event;
 * CloudEvents go structured (Redis entries have no headers).
 */
export function toStreamEntry(event: BridgeEvent, settings: EntrySettings, ctx: FormatContext): StreamEntry {
  const body = encodeEvent(event, settings.format, ctx);
  return {
    eventId: event.id,
    stream: renderTemplate(settings.stream, event),
    fields:
      event.kind === 'channel'
        ? { id: event.id, op: 'NOTIFY', channel: event.channel, event: body }
        : { id: event.id, op: event.op, table: `${event.schema}.${event.table}`, event: body },
  };
}

/** Why `stream` cannot be used as a key, or undefined when it can. */
export function streamProblem(stream: string): string | undefined {
  return stream === '' ? "the stream template gives an empty key for this event; change the sink's stream template" : undefined;
}
