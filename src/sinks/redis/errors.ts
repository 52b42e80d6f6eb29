import { errorMessage, PermanentError, RetriableError } from '../../errors.js';

/** No usable connection (refused, reset, timed out, TLS or authentication failed): not ready until connect() succeeds. */
export const REDIS_UNAVAILABLE = 'PGBRIDGE_REDIS_UNAVAILABLE';
/** The server refused for now (out of memory, loading, read-only replica, …): send again later. */
export const REDIS_RETRIABLE = 'PGBRIDGE_REDIS_RETRIABLE';
/** The server refused this entry for good (the key holds another type, no permission on the key, …). */
export const REDIS_REJECTED = 'PGBRIDGE_REDIS_REJECTED';

/**
 * Reply error codes (the first word of the reply) that can clear up without
 * anything changing on our side. Any other code on an XADD (WRONGTYPE,
 * NOPERM on a key, ERR …) is that entry's for good.
 */
const RETRIABLE_CODES = new Set(['OOM', 'LOADING', 'BUSY', 'READONLY', 'MISCONF', 'MASTERDOWN', 'TRYAGAIN', 'CLUSTERDOWN', 'NOREPLICAS']);
/** Codes that mean this connection cannot be used as it is: an operator fixes them, not dead-lettering. */
const UNAVAILABLE_CODES = new Set(['NOAUTH', 'WRONGPASS']);

/** A reply error from the server (as opposed to a socket or client error): it has a code as its first word. */
export interface ReplyError {
  readonly code: string;
  readonly message: string;
}

export function replyCode(message: string): string {
  return /^[A-Z]+/.exec(message)?.[0] ?? 'ERR';
}

/** What one error reply to an XADD means for that entry. */
export function fromReply(reply: ReplyError, stream: string): RetriableError | PermanentError {
  const message = `redis: XADD to ${JSON.stringify(stream)}: ${reply.message}`;
  if (UNAVAILABLE_CODES.has(reply.code)) return new RetriableError(message, { code: REDIS_UNAVAILABLE });
  // A user missing +xadd (or +multi) fails every event alike: an operator grants it; a missing key pattern is this stream's.
  if (reply.code === 'NOPERM' && !/\bkeys?\b/i.test(reply.message)) return new RetriableError(message, { code: REDIS_UNAVAILABLE });
  if (RETRIABLE_CODES.has(reply.code)) return new RetriableError(message, { code: REDIS_RETRIABLE });
  return new PermanentError(message, { code: REDIS_REJECTED });
}

/** A failure to connect, or a lost connection: always retriable, and the connection is gone. */
export function unavailable(step: string, cause: unknown): RetriableError {
  return new RetriableError(`redis: ${step}: ${errorMessage(cause)}`, { cause, code: REDIS_UNAVAILABLE });
}
