import { CHANNEL_PREFIX, LEGACY_WAL_READ_PREFIX, walReadPrefix } from '../schema/wal-messages.js';
import type { PgOutputMessage } from '../source/wal/pgoutput.js';

/**
 * Whether a message decoded from a slot is one a wal bridge of `instance`
 * would deliver as an event: a row change, or a transactional message for a
 * channel or carrying one of its backfill READs. Begin, commit, relation and
 * the non-transactional ones (the heartbeat among them) carry no event.
 */
export function isDeliverable(msg: PgOutputMessage, instance: string): boolean {
  switch (msg.tag) {
    case 'insert':
    case 'update':
    case 'delete':
    case 'truncate':
      return true;
    case 'message':
      return (
        msg.transactional &&
        (msg.prefix.startsWith(CHANNEL_PREFIX) || msg.prefix === walReadPrefix(instance) || msg.prefix === LEGACY_WAL_READ_PREFIX)
      );
    default:
      return false;
  }
}
