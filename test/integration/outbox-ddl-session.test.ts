/**
 * Columns added or dropped in a session that has already fired the capture
 * triggers: the events written after the DDL, in that same session, have the
 * table's new shape. (PL/pgSQL caches a trigger's plans per session; a plan
 * that had expanded NEW.* into columns kept the old ones: an added column was
 * missing from UPDATE events, a dropped one came back as null.)
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { waitFor } from '../support/bridge.js';
import type { TestDatabase } from '../support/pg.js';
import { client, installedConfig, itemsDatabase, startBridge } from './outbox-harness.js';

interface Line {
  readonly op: string;
  readonly data: Record<string, unknown> | null;
  readonly old: Record<string, unknown> | null;
}

describe('capture after DDL in the same session', () => {
  let db: TestDatabase;
  before(async () => {
    db = await itemsDatabase();
  });
  after(() => db.drop());

  test('UPDATE, INSERT and DELETE events follow ADD and DROP COLUMN made by the session that wrote before', async (t) => {
    const config = await installedConfig(db, [{ name: 'out', type: 'stdout' }]);
    const bridge = startBridge(t, config);
    await bridge.ready();

    const session = await client(db);
    t.after(() => session.end());
    await session.query(`INSERT INTO public.items (id, v, note) VALUES (1, 1, 'a'), (2, 1, 'b')`);
    await session.query('UPDATE public.items SET v = 2 WHERE id = 1');
    await session.query('DELETE FROM public.items WHERE id = 2');
    await session.query(`ALTER TABLE public.items ADD COLUMN added text DEFAULT 'new'`);
    await session.query('UPDATE public.items SET v = 3 WHERE id = 1');
    await session.query(`INSERT INTO public.items (id, v) VALUES (3, 1)`);
    await session.query('ALTER TABLE public.items DROP COLUMN note');
    await session.query('UPDATE public.items SET v = 4 WHERE id = 1');
    await session.query('DELETE FROM public.items WHERE id = 3');

    await waitFor(() => bridge.stdoutLines.filter((l) => l.trim() !== '').length >= 8, 30_000, 'all 8 events on stdout');
    const events = bridge.stdoutEvents<Line>();
    const shapes = events.map((e) => `${e.op} ${JSON.stringify(e.data)} ${JSON.stringify(e.old)}`);
    assert.deepEqual(shapes, [
      'INSERT {"id":1,"v":1,"note":"a"} null',
      'INSERT {"id":2,"v":1,"note":"b"} null',
      'UPDATE {"id":1,"v":2,"note":"a"} {"id":1,"v":1,"note":"a"}',
      'DELETE {"id":2,"v":1,"note":"b"} {"id":2,"v":1,"note":"b"}',
      'UPDATE {"id":1,"v":3,"note":"a","added":"new"} {"id":1,"v":2,"note":"a","added":"new"}',
      'INSERT {"id":3,"v":1,"note":null,"added":"new"} null',
      'UPDATE {"id":1,"v":4,"added":"new"} {"id":1,"v":3,"added":"new"}',
      'DELETE {"id":3,"v":1,"added":"new"} {"id":3,"v":1,"added":"new"}',
    ]);
  });
});
