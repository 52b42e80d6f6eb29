/**
 * A table added to the config file and `install` run again while a bridge
 * runs with routes: the running config has no route for it, so before it
 * was dropped. Now its events wait (outbox row, slot) while the bridge
 * starts delivery again with the file, in the same process; counted at the
 * far end, with a writer going on the whole time into the table captured before.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { cli, RunningBridge, waitFor, writeConfig } from '../support/bridge.js';
import { createTestDatabase, type TestDatabase } from '../support/pg.js';
import { WebhookServer } from '../support/webhook-server.js';
import { dropSlots, slotName, STREAMING } from '../support/wal.js';
import { RowStream } from '../faults/row-stream.js';
import { tallyNoLoss, type Arrival } from '../faults/tally.js';

/** Row 1000001's data as to_json renders it: never part of an event id, txid or time. */
const ROW_IN_FLIGHT = '"id":1000001';

interface Event {
  id: string;
  table: string;
  data: Record<string, unknown> & { id: number };
}

for (const delivery of ['outbox', 'wal'] as const) {
  describe(`a table added while running, config with routes (${delivery})`, () => {
    let db: TestDatabase;
    let hook: WebhookServer;

    before(async () => {
      db = await createTestDatabase(`pgbridge_added_${delivery}`);
      hook = new WebhookServer();
      await hook.start();
      await db.query(`CREATE TABLE items (id bigint PRIMARY KEY, v text DEFAULT 'x')`);
      await db.query(`CREATE TABLE items2 (id bigint PRIMARY KEY, note text, secret text)`);
    });

    after(async () => {
      if (delivery === 'wal' && db) await dropSlots(db);
      await db?.drop();
      await hook?.stop();
    });

    /** Sink `old` gets items; the wider config adds items2 (two of its columns) routed to a new sink. */
    const config = (wider: boolean) => ({
      postgres: { url: db.url },
      delivery,
      ...(delivery === 'wal' ? { wal: { slot: slotName(db), heartbeat_interval_ms: 1000 } } : {}),
      capture: [{ table: 'public.items', ops: ['insert'] }, ...(wider ? [{ table: 'public.items2', ops: ['insert'], columns: ['id', 'note'] }] : [])],
      sinks: [
        { name: 'old', type: 'webhook', url: `${hook.url}/old`, batch: { max_events: 50, max_wait_ms: 5 } },
        ...(wider ? [{ name: 'new', type: 'webhook', url: `${hook.url}/new`, batch: { max_events: 50, max_wait_ms: 5 } }] : []),
      ],
      routes: [{ from: { table: 'public.items' }, to: ['old'] }, ...(wider ? [{ from: { table: 'public.items2' }, to: ['new'] }] : [])],
      http: { port: 0 },
      shutdown_timeout_ms: 2000,
    });
    const arrived = (path: string, table: string): Arrival[] =>
      hook
        .accepted()
        .filter((r) => r.url === `/hook/${path}`)
        .flatMap((r) => [JSON.parse(r.body) as Event | Event[]].flat())
        .filter((e) => e.table === table)
        .map((e) => ({ eventId: e.id, rowId: Number(e.data.id) }));

    test('its events wait while delivery starts again with the file, none lost', async (t) => {
      const file = writeConfig(config(false));
      const installed = await cli(['install', '-c', file]);
      assert.equal(installed.code, 0, installed.stderr);
      const bridge = new RunningBridge(file);
      t.after(() => bridge.kill('SIGKILL'));
      if (delivery === 'wal') await waitFor(() => bridge.logs().some((e) => e.msg === STREAMING), 60_000, 'streaming');
      else await bridge.ready();

      const rows = new RowStream(db.url);
      await sleep(500);
      writeFileSync(file, JSON.stringify(config(true)));
      const wider = await cli(['install', '-c', file]);
      assert.equal(wider.code, 0, wider.stderr);
      await db.query(`INSERT INTO items2 SELECT g, 'n' || g, 'hidden' FROM generate_series(1, 100) g`);
      await sleep(1000);
      const sent = await rows.stop();
      const added = Array.from({ length: 100 }, (_, i) => i + 1);

      await waitFor(
        () =>
          new Set(arrived('new', 'items2').map((a) => a.rowId)).size >= 100 &&
          new Set(arrived('old', 'items').map((a) => a.rowId)).size >= sent.length,
        60_000,
        'every row of both tables',
      ).catch(() => {});
      tallyNoLoss(t, `table-added-with-routes (${delivery}, new table)`, added, arrived('new', 'items2'), delivery);
      tallyNoLoss(t, `table-added-with-routes (${delivery}, table before)`, sent, arrived('old', 'items'), delivery);
      assert.deepEqual(arrived('old', 'items2'), [], 'the new table only where the new routes send it');
      const shapes = new Set(
        hook
          .accepted()
          .flatMap((r) => [JSON.parse(r.body) as Event | Event[]].flat())
          .filter((e) => e.table === 'items2')
          .map((e) => Object.keys(e.data).join(',')),
      );
      assert.deepEqual([...shapes], ['id,note'], "the new table's column list applies");
      assert.equal(bridge.exitCode, null, 'the same process goes on');
      assert.ok(
        bridge.logs().some((e) => String(e.msg).startsWith('install added a captured table since start')),
        'the log says why delivery starts again',
      );
    });

    test('SIGTERM while delivery stops for the restart: the process stops, nothing starts again', async (t) => {
      await db.query(`TRUNCATE items, items2`);
      const file = writeConfig(config(false));
      assert.equal((await cli(['install', '-c', file])).code, 0);
      const bridge = new RunningBridge(file);
      t.after(() => bridge.kill('SIGKILL'));
      if (delivery === 'wal') await waitFor(() => bridge.logs().some((e) => e.msg === STREAMING), 60_000, 'streaming');
      else await bridge.ready();
      // The sink stops answering row 1000001: the restart's stop waits for it up to shutdown_timeout_ms.
      // Only that row's request hangs: events of the test before that its bridge (SIGKILLed) had
      // delivered without settling yet come again first, and must not take the hanging request's place.
      hook.reply = (req) => (req.body.includes(ROW_IN_FLIGHT) ? 'hang' : { status: 204 });
      t.after(() => (hook.reply = () => ({ status: 204 })));
      await db.query(`INSERT INTO items VALUES (1000001)`);
      await waitFor(() => hook.requests.some((r) => r.body.includes(ROW_IN_FLIGHT)), 10_000, 'a request in flight');
      writeFileSync(file, JSON.stringify(config(true)));
      assert.equal((await cli(['install', '-c', file])).code, 0);
      await db.query(`INSERT INTO items2 VALUES (1000001, 'n', 's')`);
      await bridge.waitForLog((e) => e.msg === 'stopping delivery to start it again with the config file', 15_000);
      const code = await bridge.stop();
      assert.equal(code, 0);
      assert.equal(bridge.logs().filter((e) => e.msg === 'pgbridge starting').length, 1, 'no second start');
    });
  });
}
