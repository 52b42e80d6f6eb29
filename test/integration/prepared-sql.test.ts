/**
 * PreparedSql, which the outbox reader's page read runs on: each connection
 * prepares a statement once, EXECUTEs several in one simple query, and a new
 * connection (the pool dropped a broken one) prepares again.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { PreparedSql, statementPrefix } from '../../src/source/prepared-sql.js';
import { createTestDatabase, type TestDatabase } from '../support/pg.js';

describe('PreparedSql', () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  const double = new PreparedSql('SELECT $1::int * 2 AS n', ['int']);
  const now = new PreparedSql('SELECT 1 AS one');

  before(async () => {
    db = await createTestDatabase('pgbridge_prepared');
    pool = db.pool({ max: 1 });
  });
  after(async () => {
    await pool?.end();
    await db?.drop();
  });

  const preparedNames = async (client: pg.PoolClient): Promise<string[]> =>
    (await client.query<{ name: string }>('SELECT name FROM pg_prepared_statements ORDER BY name')).rows.map((r) => r.name);

  test('prepared once per connection; several EXECUTEs in one query answer in order', async () => {
    const client = await pool.connect();
    try {
      await PreparedSql.prepareOn(client, [double, now]);
      await PreparedSql.prepareOn(client, [double, now]); // a second PREPARE of the same name would fail
      assert.equal((await preparedNames(client)).length, 2);
      const results = (await client.query(`${double.execute(client, '21')};${now.execute(client)}`)) as unknown as pg.QueryResult[];
      assert.deepEqual(
        results.map((r) => r.rows[0] as unknown),
        [{ n: 42 }, { one: 1 }],
      );
    } finally {
      client.release();
    }
  });

  test('a new connection prepares again, under names of its own', async () => {
    const first = await pool.connect();
    await PreparedSql.prepareOn(first, [double]);
    const firstExecute = double.execute(first, '5');
    first.release(true); // dropped, as withPooledClient drops a connection that failed
    const second = await pool.connect();
    try {
      assert.deepEqual(await preparedNames(second), []);
      await PreparedSql.prepareOn(second, [double]);
      // What a session pooler without DISCARD ALL would have left there from the first connection cannot clash.
      assert.notEqual(double.execute(second, '5'), firstExecute);
      assert.equal(((await second.query(double.execute(second, '5'))).rows[0] as { n: number }).n, 10);
    } finally {
      second.release();
    }
  });

  test("statementPrefix (wal mode's row conditions name their statements with it): one per connection, none shared", async () => {
    const first = await pool.connect();
    const prefix = statementPrefix(first);
    assert.equal(statementPrefix(first), prefix);
    first.release(true);
    const second = await pool.connect();
    try {
      assert.notEqual(statementPrefix(second), prefix);
      // A statement another connection named (left on a server session a pooler hands on) does not clash with this one's.
      await second.query(`PREPARE ${prefix}rc_x AS SELECT 1`);
      const { rows } = await second.query<{ one: number }>({ name: `${statementPrefix(second)}rc_x`, text: 'SELECT 1 AS one' });
      assert.equal(rows[0].one, 1);
    } finally {
      second.release();
    }
  });
});
