import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseTableName, qualifiedName } from '../../src/config/table-name.js';

describe('parseTableName', () => {
  const cases: Array<[string, string, string]> = [
    ['orders', 'public', 'orders'],
    ['public.orders', 'public', 'orders'],
    ['Sales.Order Items', 'Sales', 'Order Items'],
    ['Sales."Order Items"', 'Sales', 'Order Items'],
    ['"Sales"."Order Items"', 'Sales', 'Order Items'],
    ['"my.schema"."a.b"', 'my.schema', 'a.b'],
    ['"Order ""X"""', 'public', 'Order "X"'],
    ['x"; drop table y; --', 'public', 'x"; drop table y; --'],
    ["it's", 'public', "it's"],
    ['  spaced . name  ', 'spaced', 'name'],
    ['MixedCase', 'public', 'MixedCase'],
    ['表.テーブル', '表', 'テーブル'],
  ];
  for (const [text, schema, table] of cases) {
    test(JSON.stringify(text), () => {
      assert.deepEqual(parseTableName(text), { schema, table });
    });
  }

  test('refuses what is not "schema.table" or "table"', () => {
    for (const bad of ['', 'a.b.c', 'a.', '.b', '"unterminated', '"a"b', 'a..b', '""', '"a".""']) {
      assert.throws(() => parseTableName(bad), Error, JSON.stringify(bad));
    }
  });

  test('the messages say what is wrong', () => {
    assert.throws(() => parseTableName('a.b.c'), /"a\.b\.c" is not "schema\.table" or "table"/);
    assert.throws(() => parseTableName('"abc'), /unterminated quoted name/);
    assert.throws(() => parseTableName('a.'), /ends with "\."/);
  });

  test("refuses a part over 63 characters, over Postgres' 63 bytes in every encoding", () => {
    const longest = 'a'.repeat(63);
    assert.deepEqual(parseTableName(`s.${longest}`), { schema: 's', table: longest });
    assert.throws(() => parseTableName(`s.${'a'.repeat(64)}`), /is 64 characters; Postgres names are at most 63 bytes \(it would truncate it\)/);
    assert.throws(() => parseTableName(`${'b'.repeat(70)}.t`), /is 70 characters/);
    // 80 bytes in UTF-8, 40 in LATIN1: only the server can tell (install and check ask it).
    assert.deepEqual(parseTableName('é'.repeat(40)), { schema: 'public', table: 'é'.repeat(40) });
  });

  test('qualifiedName joins with a dot, unquoted', () => {
    assert.equal(qualifiedName({ schema: 'Sales', table: 'Order Items' }), 'Sales.Order Items');
  });
});
