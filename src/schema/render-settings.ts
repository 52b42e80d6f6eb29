/**
 * The session settings every value is written with, in every mode. Output
 * functions, and with them to_json, follow the session: without these the
 * triggers wrote what the writer's session set and wal mode what the
 * database's defaults set (a timestamptz's offset, an interval's style, a
 * float's digits, bytea's format). The trigger functions carry them as SET
 * clauses and every connection pgbridge opens sets them.
 *
 * TimeZone UTC, not the database's default: that one lives in several places
 * (postgresql.conf, ALTER DATABASE or ROLE … SET) and can change between an
 * install and a walsender's start; `ts` is UTC already. DateStyle pins the
 * style alone: its order (MDY, DMY) changes no ISO output, only how an
 * ambiguous date like 01/02/2026 in a `where` or `--where` is read.
 */
import { literal } from './quote.js';

export const RENDER_SETTINGS: ReadonlyArray<readonly [name: string, value: string]> = [
  ['TimeZone', 'UTC'],
  ['DateStyle', 'ISO'],
  ['IntervalStyle', 'postgres'],
  // Any value above 0 is the shortest text that reads back as the same float.
  ['extra_float_digits', '1'],
  ['bytea_output', 'hex'],
];

/** CREATE FUNCTION's SET clauses: in force while the function runs, the caller's own settings back when it returns. */
export const FUNCTION_SET_CLAUSES = RENDER_SETTINGS.map(([name, value]) => `SET ${name} = ${literal(value)}`).join(' ');

/**
 * One statement that sets them for the rest of a session. Sent once a
 * connection is made, not as the startup packet's `options`: PgBouncer
 * (1.18 here) refuses a connection that carries `options`.
 */
export const SESSION_SETTINGS_SQL = `SELECT ${RENDER_SETTINGS.map(([name, value]) => `set_config(${literal(name)}, ${literal(value)}, false)`).join(', ')}`;
