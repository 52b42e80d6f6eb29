import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { changedCondition } from '../../src/schema/changed-columns.js';

describe('changedCondition', () => {
  test('IS DISTINCT FROM per column, by text for a type without equality, names quoted', () => {
    const columns = [
      { name: 'status', byText: false },
      { name: 'js"on', byText: true },
    ];
    assert.equal(changedCondition(columns), '(NEW."status" IS DISTINCT FROM OLD."status" OR NEW."js""on"::text IS DISTINCT FROM OLD."js""on"::text)');
    assert.equal(changedCondition(columns.slice(0, 1), 'r', 'o'), '(r."status" IS DISTINCT FROM o."status")');
  });

  test('no listed column left (dropped since): nothing changed', () => {
    assert.equal(changedCondition([], 'r', 'o'), 'false');
  });
});
