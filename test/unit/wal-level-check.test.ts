import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assertLogicalWal, WalLevelError } from '../../src/source/wal/wal-level.js';
import { FakePool } from './support/fake-pool.js';
import { silent } from './support/fake-sink.js';

const answering = (level: string): FakePool => {
  const pool = new FakePool();
  pool.answer = () => [{ level }];
  return pool;
};

test('wal_level check: a connection lost as delivery (re)starts is tried again, not the end of the process', async () => {
  const pool = answering('logical');
  pool.failures = 1;
  await assertLogicalWal(pool.asPool(), silent);
  assert.equal(pool.statements.length, 2);
});

test('wal_level check: an answer other than logical still refuses to start', async () => {
  await assert.rejects(assertLogicalWal(answering('replica').asPool(), silent), WalLevelError);
});
