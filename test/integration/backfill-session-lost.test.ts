/**
 * `pgbridge backfill` whose own Postgres session is cut half way
 * (pg_terminate_backend, as an operator or a failover does it): it stops with
 * exit 1 and a message that says what happened, how far it got and how to go
 * on, not pg's bare "Client has encountered a connection error"; the same
 * command then continues, and the webhook at the far end gets every row once.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { cli, installAndRun, waitFor, writeConfig, type RunningBridge } from '../support/bridge.js';
import { createTestDatabase, terminateBackends, type TestDatabase } from '../support/pg.js';
import { backfillRowsDone } from '../support/backfill-progress.js';
import { WebhookServer } from '../support/webhook-server.js';

const ROWS = 6000;

interface Event {
  table: string;
  op: string;
  data: { id: number };
}

for (const delivery of ['outbox', 'notify'] as const) {
  describe(`backfill whose session is terminated half way (delivery: ${delivery})`, () => {
    let db: TestDatabase;
    let server: WebhookServer;
    let bridge: RunningBridge;
    let file: string;

    before(async () => {
      db = await createTestDatabase();
      server = new WebhookServer();
      const url = await server.start();
      await db.query('CREATE TABLE t (id int PRIMARY KEY, v text)');
      await db.query(`INSERT INTO t SELECT i, 'row ' || i FROM generate_series(1, ${ROWS}) i`);
      file = writeConfig({
        postgres: { url: db.url },
        delivery,
        capture: ['t'],
        sinks: [{ name: 'hook', type: 'webhook', url, batch: { max_events: 100 } }],
        http: { port: 0 },
      });
      bridge = await installAndRun(file);
    });

    after(async () => {
      await bridge?.stop();
      await server?.stop();
      await db?.drop();
    });

    test('exit 1 saying the connection was lost and how far it got; the same command continues; every row arrives once', async () => {
      const rowsDone = async () => backfillRowsDone(db, 't');
      // --rate: about 6 s in all, so it is still running when its session goes.
      const cut = cli(['backfill', '-c', file, 't', '--chunk', '100', '--rate', '1000']);
      await waitFor(async () => (await rowsDone()) >= 1000, 30_000, 'the backfill under way');
      assert.equal(await terminateBackends(db.name, 'pgbridge backfill'), 1);
      const stopped = await cut;
      assert.equal(stopped.code, 1, stopped.stderr);
      assert.match(
        stopped.stderr,
        /pgbridge backfill: the backfill of public\.t stopped after \d+ rows: lost its connection to Postgres .*run the same command again to continue/,
      );
      assert.doesNotMatch(stopped.stderr, /\n\s+at /, 'no stack trace');
      const said = Number(/stopped after (\d+) rows/.exec(stopped.stderr)![1]);
      assert.ok(said >= 1000 && said < ROWS, String(said));

      const resumed = await cli(['backfill', '-c', file, 't']);
      assert.equal(resumed.code, 0, resumed.stderr);
      assert.match(resumed.stderr, /continuing an interrupted backfill/);
      const reads = () => (server.delivered() as Event[]).filter((e) => e.table === 't' && e.op === 'READ').map((e) => e.data.id);
      await waitFor(() => reads().length >= ROWS, 60_000, `${ROWS} READs at the webhook`);
      // A READ the backfill repeated would come right behind the others: the bridge is idle once this UPDATE arrives.
      await db.query('UPDATE t SET v = v WHERE id = 1');
      await waitFor(() => (server.delivered() as Event[]).some((e) => e.op === 'UPDATE'), 30_000, 'the UPDATE after the READs');
      assert.equal(reads().length, ROWS, 'no READ repeated');
      assert.equal(new Set(reads()).size, ROWS, 'none lost');
    });
  });
}
