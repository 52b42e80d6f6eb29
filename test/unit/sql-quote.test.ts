import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { captureOpSql } from '../../src/install/capture-sql.js';
import { functionName, triggerName } from '../../src/install/names.js';
import { outboxTable } from '../../src/schema/outbox.js';
import { dollarQuote, ident, literal } from '../../src/schema/quote.js';

describe('SQL quoting', () => {
  test('ident doubles quotes; literal doubles single quotes', () => {
    assert.equal(ident('orders'), '"orders"');
    assert.equal(ident('x"; drop table y; --'), '"x""; drop table y; --"');
    assert.equal(literal("it's"), "'it''s'");
    assert.equal(literal("'); drop table y; --"), "'''); drop table y; --'");
    assert.equal(literal('back\\slash'), "'back\\slash'", 'standard_conforming_strings: a backslash is just a character');
  });

  test('literal refuses NUL', () => {
    assert.throws(() => literal('a\0b'), /NUL/);
  });

  test('dollarQuote picks a tag the body does not contain', () => {
    assert.equal(dollarQuote('SELECT 1'), '$pgbridge$SELECT 1$pgbridge$');
    assert.equal(dollarQuote('x $pgbridge$ y'), '$pgbridge0$x $pgbridge$ y$pgbridge0$');
    assert.equal(dollarQuote('$pgbridge$ $pgbridge0$'), '$pgbridge1$$pgbridge$ $pgbridge0$$pgbridge1$');
  });
});

describe('object names', () => {
  test('the default instance uses pgbridge.outbox; others their own table', () => {
    assert.equal(outboxTable('default'), 'pgbridge.outbox');
    assert.equal(outboxTable('eu'), 'pgbridge.outbox_eu');
    assert.equal(triggerName('default', 'insert'), 'pgbridge_default_insert');
  });

  test('function names are stable, distinct per table and op, and within 63 bytes for any table name', () => {
    const long = { schema: 'S'.repeat(63), table: 'T'.repeat(63) };
    const name = functionName('a_thirty_character_instance_nm', long, 'delete');
    assert.ok(Buffer.byteLength(name) <= 63, name);
    assert.equal(
      functionName('default', { schema: 'public', table: 'a' }, 'insert'),
      functionName('default', { schema: 'public', table: 'a' }, 'insert'),
    );
    assert.notEqual(
      functionName('default', { schema: 'public', table: 'a' }, 'insert'),
      functionName('default', { schema: 'public', table: 'b' }, 'insert'),
    );
    assert.notEqual(
      functionName('default', { schema: 'a', table: 'b.c' }, 'insert'),
      functionName('default', { schema: 'a.b', table: 'c' }, 'insert'),
    );
    assert.match(name, /^[a-z0-9_]+$/);
  });
});

describe('capture SQL', () => {
  const ctx = { instance: 'default', delivery: 'outbox' as const, notifyChannel: 'pgbridge', primaryKey: ['id'] };
  const evil = {
    schema: 'public',
    table: 'x"; drop table y; --',
    ops: new Set(['insert' as const]),
    columns: { insert: ["a'b", 'c"d'], update: null, delete: null },
  };

  test('every name from the config is quoted where it is used', () => {
    const sql = captureOpSql(evil, 'insert', ctx);
    assert.ok(sql.includes('ON "public"."x""; drop table y; --"'), sql);
    assert.ok(sql.includes(`'x"; drop table y; --'`), 'as a literal in the event');
    assert.ok(sql.includes(`r."a'b"`) && sql.includes(`r."c""d"`), 'column names as identifiers');
  });

  test('selected columns are rendered with row_to_json, as skor does (compact JSON, not json_build_object)', () => {
    const sql = captureOpSql({ ...evil, table: 't', columns: { insert: ['id', 'name'], update: null, delete: null } }, 'insert', ctx);
    assert.ok(!sql.includes('json_build_object('), sql);
    assert.match(sql, /row_to_json\(c\.\*\) FROM \(SELECT r\."id", r\."name"\) c/);
  });

  test('a table without a primary key has a NULL key', () => {
    const sql = captureOpSql({ ...evil, table: 't' }, 'insert', { ...ctx, primaryKey: [] });
    assert.match(sql, /NULL::json AS key/);
  });

  test('update is a row trigger (old and new paired), insert and delete statement triggers with transition tables', () => {
    const table = {
      schema: 'public',
      table: 't',
      ops: new Set(['insert', 'update', 'delete'] as const),
      columns: { insert: null, update: null, delete: null },
    };
    assert.match(captureOpSql(table, 'update', ctx), /AFTER UPDATE ON "public"\."t" FOR EACH ROW/);
    assert.match(captureOpSql(table, 'insert', ctx), /REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT/);
    assert.match(captureOpSql(table, 'delete', ctx), /REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT/);
  });

  test('a partitioned table gets row triggers for every op (cloned onto each partition)', () => {
    const table = {
      schema: 'public',
      table: 'p',
      ops: new Set(['insert', 'update', 'delete'] as const),
      columns: { insert: null, update: null, delete: null },
    };
    const parted = { ...ctx, partitioned: true };
    assert.match(captureOpSql(table, 'insert', parted), /AFTER INSERT ON "public"\."p" FOR EACH ROW/);
    assert.match(captureOpSql(table, 'insert', parted), /row_to_json\(NEW\.\*\) AS data/);
    assert.match(captureOpSql(table, 'delete', parted), /AFTER DELETE ON "public"\."p" FOR EACH ROW/);
    assert.match(captureOpSql(table, 'delete', parted), /row_to_json\(OLD\.\*\) AS old/);
    assert.doesNotMatch(captureOpSql(table, 'insert', parted), /REFERENCING/);
  });

  test('notify mode: events over the NOTIFY limit go to the outbox, and a kept notice goes out in their place', () => {
    const table = { schema: 'public', table: 't', ops: new Set(['insert'] as const), columns: { insert: null, update: null, delete: null } };
    const sql = captureOpSql(table, 'insert', { ...ctx, delivery: 'notify' });
    assert.match(sql, /octet_length\(p\.payload\) > 7999/);
    assert.match(sql, /CASE WHEN octet_length\(p\.payload\) <= 7999 THEN p\.payload ELSE \(SELECT CASE WHEN octet_length\(n\.notice\) <= 7999/);
    assert.match(sql, /INSERT INTO pgbridge\.outbox/);
    // The notices are what this version reads; the empty wake-up after them, only when some were kept, is for a bridge from before them.
    assert.match(sql, /INTO sent, kept;\s+(--[^\n]*\s+)*IF kept > 0 THEN\s+PERFORM pg_notify\('pgbridge', ''\);/);
  });
});
