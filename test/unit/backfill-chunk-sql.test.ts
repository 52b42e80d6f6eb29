import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { boundSql, chunkCte, chunkOrder, type ChunkSource } from '../../src/backfill/chunk-sql.js';

const source: ChunkSource = {
  table: { schema: 'public', table: 'My "T"' },
  key: [
    { name: 'b', type: 'text' },
    { name: 'a', type: 'integer' },
  ],
  columns: null,
  conditions: ['(r.hidden IS NOT TRUE)'],
  partitioned: false,
};

describe('backfill chunk SQL', () => {
  test('the first chunk: no lower bound; params are the bound key, then the sink', () => {
    assert.match(boundSql(source, false), /WHERE \(r\.hidden IS NOT TRUE\)\s+ORDER BY r\."b", r\."a" OFFSET \$1::bigint - 1 LIMIT 1$/);
    const cte = chunkCte(source, false, true);
    assert.match(cte, /WHERE \(r\."b", r\."a"\) <= \(\$1::text, \$2::integer\) AND \(r\.hidden IS NOT TRUE\)/);
    assert.match(cte, /FOR SHARE OF r/);
    assert.match(cte, /FROM ONLY "public"\."My ""T""" r/);
    assert.match(boundSql(source, false), /FROM ONLY "public"/);
  });

  test('a partitioned table is read with its partitions (ONLY would read none)', () => {
    const partitioned = { ...source, partitioned: true };
    assert.match(chunkCte(partitioned, false, true), /FROM "public"\."My ""T""" r/);
    assert.match(boundSql(partitioned, false), /FROM "public"\."My ""T""" r/);
  });

  test('later chunks: after the last key ($1, $2), up to the bound ($3, $4); the last chunk has no bound', () => {
    assert.match(boundSql(source, true), /WHERE \(r\."b", r\."a"\) > \(\$1::text, \$2::integer\) AND .* OFFSET \$3::bigint - 1 LIMIT 1$/s);
    assert.match(
      chunkCte(source, true, true),
      /\(r\."b", r\."a"\) > \(\$1::text, \$2::integer\) AND \(r\."b", r\."a"\) <= \(\$3::text, \$4::integer\)/,
    );
    assert.doesNotMatch(chunkCte(source, true, false), /<=/);
    assert.equal(chunkOrder(source), 'c.k0, c.k1');
  });
});
