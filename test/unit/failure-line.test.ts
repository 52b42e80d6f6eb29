import assert from 'node:assert/strict';
import { test } from 'node:test';
import { failureLine } from '../../src/errors.js';

test("failureLine: Postgres' DETAIL and HINT after the message, on one line; other errors as they are", () => {
  const pgError = Object.assign(new Error('cannot add relation "t" to publication'), {
    detail: 'This operation is not supported\nfor unlogged tables.',
    hint: 'Use ALTER TABLE … SET LOGGED.',
  });
  assert.equal(
    failureLine(pgError),
    'cannot add relation "t" to publication (This operation is not supported for unlogged tables.; hint: Use ALTER TABLE … SET LOGGED.)',
  );
  assert.equal(failureLine(Object.assign(new Error('plain'), { detail: '', hint: undefined })), 'plain');
  assert.equal(failureLine(new Error('two\nlines kept')), 'two\nlines kept');
  assert.equal(failureLine('a string'), 'a string');
});
