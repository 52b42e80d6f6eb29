import assert from 'node:assert/strict';
import { test } from 'node:test';
import { connectionLost, stoppedMidway } from '../../src/backfill/stopped-midway.js';

const table = { schema: 'public', table: 'orders' };
const pgError = (message: string, code: string) => Object.assign(new Error(message), { code });

test('a lost session is said so, whether pg saw it as a server error or a closed socket', () => {
  for (const err of [
    pgError('terminating connection due to administrator command', '57P01'),
    pgError('the database system is shutting down', '57P03'),
    pgError('connection failure', '08006'),
    new Error('Client has encountered a connection error and is not queryable'),
    new Error('Connection terminated unexpectedly'),
    // The socket reset while a chunk's query waited: pg rejects it with Node's error, whose code is no SQLSTATE.
    Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET', errno: -104, syscall: 'read' }),
    Object.assign(new Error('write EPIPE'), { code: 'EPIPE', errno: -32, syscall: 'write' }),
  ]) {
    assert.ok(connectionLost(err), err.message);
    assert.match(
      stoppedMidway(table, 1200, err).message,
      /^the backfill of public\.orders stopped after 1200 rows: lost its connection to Postgres \(.+\); run the same command again to continue/,
    );
  }
  assert.ok(!connectionLost(pgError('canceling statement due to statement timeout', '57014')));
  assert.ok(!connectionLost(new Error('something else')));
});

test('a statement timeout suggests smaller chunks; any other failure keeps its own words', () => {
  assert.equal(
    stoppedMidway(table, 0, pgError('canceling statement due to statement timeout', '57014')).message,
    'the backfill of public.orders stopped after 0 rows: canceling statement due to statement timeout (a smaller --chunk makes each chunk shorter); run the same command again to continue after the last chunk that committed',
  );
  assert.match(
    stoppedMidway(table, 5, pgError('canceling statement due to user request', '57014')).message,
    /after 5 rows: canceling statement due to user request; run/,
  );
});
