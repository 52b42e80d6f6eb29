/**
 * The outbox stays small without autovacuum (CONTRACT §4): the delivering
 * instance vacuums its own queue table. Autovacuum is switched off for the
 * outbox here, whatever the server's setting, so only pgbridge can have done it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { outboxTable } from '../../src/schema/outbox.js';
import { waitFor } from '../support/bridge.js';
import type { TestDatabase } from '../support/pg.js';
import { installedConfig, itemsDatabase, startBridge } from './outbox-harness.js';

describe('outbox vacuum', () => {
  let db: TestDatabase;
  before(async () => {
    db = await itemsDatabase();
  });
  after(() => db.drop());

  test('a stream of 30,000 delivered events leaves the outbox vacuumed, its dead rows bounded', async (t) => {
    const config = await installedConfig(db, [{ name: 'out', type: 'stdout' }]);
    const table = outboxTable('default');
    await db.query(`ALTER TABLE ${table} SET (autovacuum_enabled = false)`);
    const bridge = startBridge(t, config);
    await bridge.ready();

    const rows = 30_000;
    for (let first = 1; first <= rows; first += 500) {
      await db.query('INSERT INTO public.items (id) SELECT g FROM generate_series($1::int, $2::int) g', [first, first + 499]);
    }
    await waitFor(() => bridge.stdoutLines.length >= rows, 60_000, 'every event on stdout');
    const stats = async () =>
      (
        await db.query<{ vacuums: number; dead: number; pages: number }>(
          `SELECT vacuum_count::int AS vacuums, n_dead_tup::int AS dead, pg_relation_size($1::regclass)::int / 8192 AS pages
             FROM pg_stat_user_tables WHERE relid = $1::regclass`,
          [table],
        )
      ).rows[0];
    await waitFor(async () => (await stats()).vacuums > 0 && (await stats()).dead < 2000, 30_000, 'pgbridge vacuuming the outbox');
    const final = await stats();
    t.diagnostic(`events=${rows} vacuums=${final.vacuums} dead=${final.dead} pages=${final.pages}`);
    assert.equal(await db.query('SELECT count(*)::int AS n FROM ' + table).then((r) => r.rows[0].n), 0);
    assert.ok(final.dead < 2000);
  });
});
