import { qualifiedName, type TableName } from '../config/table-name.js';
import { errorMessage, failureLine } from '../errors.js';
import { sqlState } from '../schema/row-filter.js';
import { BackfillError } from './backfill-error.js';

/** pg's own words when the socket went (no SQLSTATE): the server session ended or the network dropped. */
const SOCKET_GONE = /Connection terminated|not queryable|ECONNRESET|EPIPE|ETIMEDOUT/;

/** The session is gone: terminated (57P01), the server shutting down or crashed (57P02, 57P03), a connection exception (08…), or the socket closed. */
export function connectionLost(err: unknown): boolean {
  // A socket's own error (read ECONNRESET while a query waited) has a code too, Node's, not a SQLSTATE.
  const code = typeof (err as { syscall?: unknown } | null)?.syscall === 'string' ? undefined : sqlState(err);
  return code === undefined ? SOCKET_GONE.test(errorMessage(err)) : /^(08|57P0[123])/.test(code);
}

/**
 * A chunk failed for a reason of the session's, not of the rows' (the
 * connection lost, a statement timeout): each chunk's events and position
 * commit together, so the same command continues after the last one that did.
 * pg's bare "Client has encountered a connection error" says none of that.
 */
export function stoppedMidway(table: TableName, rowsDone: number, err: unknown): BackfillError {
  const why = connectionLost(err) ? `lost its connection to Postgres (${failureLine(err)})` : failureLine(err);
  const shorter = sqlState(err) === '57014' && errorMessage(err).includes('statement timeout') ? ' (a smaller --chunk makes each chunk shorter)' : '';
  return new BackfillError(
    `the backfill of ${qualifiedName(table)} stopped after ${rowsDone} rows: ${why}${shorter}; run the same command again to continue after the last chunk that committed`,
  );
}
