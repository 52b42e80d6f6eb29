import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { whyNotSelfContained } from '../../src/schema/self-contained.js';

describe('whyNotSelfContained: SQL that stays inside the parentheses it is pasted into', () => {
  const accepted = [
    'v < 5',
    "status <> 'draft' AND amount > 0",
    'id IN (SELECT id FROM items WHERE (v % 2) = 0)',
    "created > now() - interval '30 days'",
    "name = ')'",
    "name = 'it''s ( a )'",
    "name = E'\\')'",
    "name = e'a\\\\' AND (true)",
    '"odd)name" = 1',
    '"a""(b" = 1',
    'x = $$)$$',
    'x = $t$ $$ ) $t$',
    'x = $ü$)$ü$',
    'a$b$ = 1 AND (c)',
    'v < 5 -- a ) note',
    'v < 5 -- ) ;\n AND (w > 1)',
    'v < 5 /* ) ; /* nested ( */ still ) a comment */',
    "name = B'101' OR name = X'1f'",
    'name = U&\'d\\0061t\\+000061\' AND U&"a)" = 1',
    "'a'\n'b' = 'ab'",
    'x = $1',
    'v <> 3 -- ends with a comment',
    `x = $${'t'.repeat(250)}$ ' ) $${'t'.repeat(250)}$ AND (y)`,
  ];
  for (const sql of accepted) {
    test(`accepts ${JSON.stringify(sql)}`, () => assert.equal(whyNotSelfContained(sql), undefined));
  }

  const refused: Array<[string, RegExp]> = [
    ['v < 5) OR (true', /the "\)" at character 6 closes a parenthesis it did not open/],
    ['true) AND (false', /"\)" at character 5/],
    ['(v < 5', /a "\(" is never closed/],
    ['((v < 5', /2 "\(" are never closed/],
    ['v < 5; DELETE FROM t', /the ";" at character 6 ends the statement/],
    ['(v < 5; DELETE FROM t)', /the ";" at character 7 ends the statement/],
    ["name = 'x", /a string literal at character 8 is never closed/],
    ["name = E'\\') OR (true", /string literal at character 9 is never closed/],
    ['"x = 1', /a quoted identifier at character 1 is never closed/],
    ['x = $$ ) OR (true', /a dollar-quoted string \$\$ at character 5 is never closed/],
    ['x = $t$ ) $$', /dollar-quoted string \$t\$/],
    ['v < 5 /* ) OR (true', /a \/\* comment at character 7 is never closed/],
    ['v < 5 /* /* */ ) OR (true', /\/\* comment at character 7 is never closed/],
    ['v < 5 --x\r) OR (true', /the "\)" at character 11/],
    ["name = '\\') OR (true", /"\)" at character 11/],
  ];
  for (const [sql, why] of refused) {
    test(`refuses ${JSON.stringify(sql)}`, () => assert.match(whyNotSelfContained(sql) ?? 'accepted', why));
  }

  test('a word ending in e before a quote is not an escape string: the backslash is a character', () => {
    assert.equal(whyNotSelfContained("type'\\' = 1"), undefined);
    assert.match(whyNotSelfContained("x = e'\\' = 1") ?? 'accepted', /never closed/);
  });

  test('standard_conforming_strings off: a backslash escapes in plain strings too', () => {
    const sql = "name = '\\') OR (true'";
    assert.match(whyNotSelfContained(sql) ?? 'accepted', /"\)" at character 11/);
    assert.equal(whyNotSelfContained(sql, { standardConformingStrings: false }), undefined);
    assert.match(whyNotSelfContained("name = 'a\\'", { standardConformingStrings: false }) ?? 'accepted', /never closed/);
  });
});
