/**
 * An UPDATE or DELETE whose WAL record lacks the whole old row (the table's
 * replica identity was not FULL when it was written) cannot become the event
 * the contract promises, and reading the record again never helps: it becomes
 * a dead letter at every routed sink, and the stream goes on. Counted at the
 * far ends (two webhooks), in pgbridge.dead_letters and at the slot.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { cli, RunningBridge, showingLogOnFailure, waitFor, writeConfig } from '../support/bridge.js';
import { createTestDatabase, type TestDatabase } from '../support/pg.js';
import { WebhookServer } from '../support/webhook-server.js';
import { endWalTest, installedAndStreaming, lsnValue, slotInfo, slotName } from '../support/wal.js';

interface Event {
  id: string;
  table: string;
  op: string;
  data: Record<string, unknown> | null;
  old: Record<string, unknown> | null;
}

interface Letter {
  sink: string;
  event_id: string;
  event: Event;
  key: Record<string, unknown> | null;
  error: string;
  attempts: number;
}

describe('wal mode: a change without the whole old row', () => {
  let db: TestDatabase;
  let slot: string;
  let file: string;
  let bridge: RunningBridge;
  const hooks = [new WebhookServer(), new WebhookServer()];

  const events = (hook: WebhookServer): Event[] => hook.delivered() as Event[];
  const describeEvent = (e: Event): string => `${e.table} ${e.op} ${JSON.stringify(e.data)}`;
  const letters = async (): Promise<Letter[]> =>
    (await db.query<Letter>(`SELECT sink, event_id, event, key, error, attempts FROM pgbridge.dead_letters ORDER BY sink, (event->>'id')`)).rows;
  const logged = (text: string, level?: number): Array<Record<string, unknown>> =>
    bridge.logs().filter((e) => typeof e.msg === 'string' && e.msg.includes(text) && (level === undefined || e.level === level));

  before(async () => {
    db = await createTestDatabase('pgbridge_walold');
    slot = slotName(db);
    await db.query(`CREATE TABLE t (id int PRIMARY KEY, v text, big text)`);
    await db.query(`CREATE TABLE f (id int PRIMARY KEY, v text, n int)`);
    await db.query(`CREATE TABLE g (id int PRIMARY KEY, v text, n int)`);
    const urls = await Promise.all(hooks.map((h) => h.start()));
    file = writeConfig({
      postgres: { url: db.url },
      delivery: 'wal',
      wal: { slot, heartbeat_interval_ms: 500, status_interval_ms: 500 },
      capture: [
        { table: 't' },
        // UPDATE is published: the bridge applies these filters itself.
        { table: 'f', where: 'n > 0', changed: ['v'] },
        { table: 'g', where: 'n > 0' },
      ],
      sinks: urls.map((url, i) => ({ name: `hook${i + 1}`, type: 'webhook', url, retry: { initial_ms: 50, max_ms: 200 } })),
      http: { port: 0 },
    });
    bridge = await installedAndStreaming(file);
  });

  after(async () => {
    await endWalTest(db, bridge);
    for (const h of hooks) await h.stop();
  });

  test('dead letters at every sink, the rest of the transaction and later ones delivered once, the slot moves on', async () => {
    const big = `(SELECT string_agg(md5(g::text), '') FROM generate_series(1, 2000) g)`;
    await db.query(`INSERT INTO t VALUES (1, 'a', NULL), (2, 'b', NULL), (6, 't', ${big})`);
    await db.query(`INSERT INTO f VALUES (1, 'a', 1), (2, 'b', 1)`);
    await db.query(`INSERT INTO g VALUES (1, 'a', 1), (2, 'b', 1)`);
    await waitFor(() => hooks.every((h) => new Set(events(h).map((e) => e.id)).size >= 7), 30_000, 'the rows before');
    const before = new Set(hooks.flatMap((h) => events(h).map((e) => e.id)));
    for (const table of ['t', 'f', 'g']) await db.query(`ALTER TABLE ${table} REPLICA IDENTITY DEFAULT`);

    await db.query(`BEGIN; INSERT INTO t VALUES (99999, 'new'); UPDATE t SET v = 'y' WHERE id = 1; DELETE FROM t WHERE id = 2;
      UPDATE t SET id = 3 WHERE id = 99999; UPDATE t SET v = 't2' WHERE id = 6; INSERT INTO t VALUES (4, 'x'); COMMIT`);
    // f's `changed` and its DELETE's `where` need the old row; g's UPDATE `where` is judged on the new row alone.
    await db.query(`BEGIN; UPDATE f SET v = 'z' WHERE id = 1; DELETE FROM f WHERE id = 2; UPDATE g SET n = -1 WHERE id = 1;
      UPDATE g SET v = 'q' WHERE id = 2; INSERT INTO t VALUES (5, 'later'); COMMIT`);
    await db.query(`UPDATE t SET v = 'z' WHERE id = 1`);
    const installed = await cli(['install', '-c', file]);
    assert.equal(installed.code, 0, installed.stderr);
    await db.query(`UPDATE t SET v = 'after' WHERE id = 1`);

    const isLast = (e: Event): boolean => e.op === 'UPDATE' && e.data?.v === 'after';
    await showingLogOnFailure(
      bridge,
      waitFor(() => hooks.every((h) => events(h).some(isLast)), 30_000, 'the UPDATE after install at both sinks'),
    );
    await new Promise((r) => setTimeout(r, 1500)); // a stream started again would bring them twice by now

    for (const hook of hooks) {
      const after = events(hook).filter((e) => !before.has(e.id));
      assert.deepEqual(
        after.map(describeEvent).sort(),
        [
          't INSERT {"id":4,"v":"x","big":null}',
          't INSERT {"id":5,"v":"later","big":null}',
          't INSERT {"id":99999,"v":"new","big":null}',
          't UPDATE {"id":1,"v":"after","big":null}',
        ],
        'each once',
      );
      assert.deepEqual(after.find(isLast)!.old, { id: 1, v: 'z', big: null }, 'with REPLICA IDENTITY FULL again: the whole old row');
    }

    const stored = await letters();
    for (const sink of ['hook1', 'hook2']) {
      const mine = stored.filter((l) => l.sink === sink);
      assert.deepEqual(
        mine.map((l) => `${describeEvent(l.event)} old ${JSON.stringify(l.event.old)}`),
        [
          't UPDATE {"id":1,"v":"y","big":null} old null',
          't DELETE {"id":2} old {"id":2}',
          't UPDATE {"id":3,"v":"new","big":null} old {"id":99999}',
          't UPDATE {"id":6,"v":"t2"} old null',
          'f UPDATE {"id":1,"v":"z","n":1} old null',
          'f DELETE {"id":2} old {"id":2}',
          'g UPDATE {"id":2,"v":"q","n":1} old null',
          't UPDATE {"id":1,"v":"z","big":null} old null',
        ],
        `${sink}'s dead letters`,
      );
      for (const l of mine) {
        assert.equal(l.event_id, l.event.id);
        assert.equal(l.attempts, 0);
        assert.match(l.error, /^public\.[tfg]: (UPDATE|DELETE) without the whole old row \(replica identity default\)/);
        assert.match(l.error, /run `pgbridge install` to set REPLICA IDENTITY FULL/);
      }
      const [update1, delete2, , toasted, changed] = mine;
      assert.deepEqual(update1.key, { id: 1 });
      assert.match(update1.error, /old is null: the WAL record has no old values/);
      assert.match(delete2.error, /data and old hold only the key columns the WAL record has/);
      assert.match(toasted.error, /data leaves out big: an unchanged TOASTed value/);
      assert.match(changed.error, /`where` \/ `changed` not applied/);
    }

    const errors = logged('without the whole old row', 50);
    assert.deepEqual(errors.map((e) => e.table).sort(), ['public.f', 'public.g', 'public.t'], 'one error line per table');
    assert.equal(logged('replication stream failed').length, 0, 'the stream never stopped');

    const lastCommit = BigInt(`0x${events(hooks[0]).find(isLast)!.id.split('-')[0]}`);
    await waitFor(async () => lsnValue((await slotInfo(slot)).confirmed!) > lastCommit, 15_000, 'the slot past the last transaction');
  });

  test('dead-letters list and retry work on such letters', async () => {
    const list = await cli(['dead-letters', 'list', '--sink', 'hook1', '-c', file]);
    assert.equal(list.code, 0, list.stderr);
    const listed = list.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { event_id: string; error: string; event: Event });
    assert.equal(listed.length, 8);
    const deleted = listed.find((l) => l.event.op === 'DELETE' && l.event.table === 't')!;
    const retry = await cli(['dead-letters', 'retry', '--sink', 'hook1', '--id', deleted.event_id, '-c', file]);
    assert.equal(retry.code, 0, retry.stderr);
    await showingLogOnFailure(
      bridge,
      waitFor(() => events(hooks[0]).some((e) => e.id === deleted.event_id), 30_000, 'the retried letter at hook1'),
    );
    const again = events(hooks[0]).find((e) => e.id === deleted.event_id)!;
    assert.deepEqual({ data: again.data, old: again.old }, { data: { id: 2 }, old: { id: 2 } });
    assert.equal(
      events(hooks[1]).some((e) => e.id === deleted.event_id),
      false,
      'only the sink it was retried for',
    );
    assert.equal((await letters()).length, 15);
  });
});
