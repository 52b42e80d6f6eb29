/**
 * The prefixes of the pg_logical_emit_message() messages pgbridge reads from a
 * slot, as both sides see them: the backfill and the users' code write them,
 * the wal source delivers them, and install looks for them in a slot it would drop.
 */

/** Messages delivered as channel events: `pgbridge:<channel>`. */
export const CHANNEL_PREFIX = 'pgbridge:';

/** The non-transactional message that moves an idle slot forward; it carries no event. */
export const HEARTBEAT_PREFIX = 'pgbridge-heartbeat';

/**
 * wal mode: the prefix of the transactional pg_logical_emit_message() that
 * carries one backfill READ event of `instance` (payload: the notify wire
 * format), so it reaches the slot in commit order with the live changes of its
 * rows. Every slot of the database decodes every message: the instance in the
 * prefix is how the bridges of other instances know to leave it.
 */
export const walReadPrefix = (instance: string): string => `${LEGACY_WAL_READ_PREFIX}:${instance}`;

/** The prefix of READ messages written before they named their instance. */
export const LEGACY_WAL_READ_PREFIX = 'pgbridge-read';
