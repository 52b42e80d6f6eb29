/**
 * Notify mode: the listener survives pg_terminate_backend of its connection,
 * says in the log that changes made meanwhile are lost, and delivers what
 * comes after; a refused event becomes a dead letter here too.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { RunningBridge, waitFor, writeConfig, installAndRun } from '../support/bridge.js';
import { createTestDatabase, terminateBackends, type TestDatabase } from '../support/pg.js';
import { WebhookServer } from '../support/webhook-server.js';

interface Event {
  id: string;
  op: string;
  data: Record<string, unknown>;
}

describe('notify mode listener', () => {
  let db: TestDatabase;
  let server: WebhookServer;
  let bridge: RunningBridge;

  const received = (path = '/hook'): Event[] => server.requests.filter((r) => r.url === path).map((r) => JSON.parse(r.body) as Event);

  before(async () => {
    db = await createTestDatabase();
    server = new WebhookServer();
    server.reply = (req) => (req.url === '/refuse' ? { status: 422, body: 'no thanks' } : { status: 204 });
    const url = await server.start();
    await db.query(`CREATE TABLE items (id int PRIMARY KEY, name text)`);
    await db.query(`CREATE TABLE refused (id int PRIMARY KEY)`);
    const file = writeConfig({
      postgres: { url: db.url },
      delivery: 'notify',
      capture: [{ table: 'items' }, { table: 'refused' }],
      sinks: [
        { name: 'hook', type: 'webhook', url, retry: { initial_ms: 50, max_ms: 500 } },
        { name: 'refuse', type: 'webhook', url: url.replace(/\/hook$/, '/refuse'), retry: { initial_ms: 50, max_ms: 500 } },
      ],
      routes: [
        { from: { table: 'items' }, to: ['hook'] },
        { from: { table: 'refused' }, to: ['refuse'] },
      ],
      http: { port: 0 },
    });
    bridge = await installAndRun(file);
  });

  after(async () => {
    await bridge?.kill('SIGTERM');
    await server?.stop();
    await db?.drop();
  });

  test('survives pg_terminate_backend of its connection and delivers what comes after', async () => {
    await db.query(`INSERT INTO items VALUES (1, 'before')`);
    await waitFor(() => received().length === 1, 10_000, 'the first event');

    const killed = await terminateBackends(db.name, 'pgbridge listener');
    assert.ok(killed >= 1, `terminated ${killed} listener connection(s)`);
    await bridge.waitForLog((e) => e.msg === 'listener reconnected', 10_000);
    // The log says that changes made while disconnected are lost.
    await bridge.waitForLog(
      (e) => e.level === 40 && typeof e.msg === 'string' && /notify mode.*while the listener was disconnected.*lost/.test(e.msg),
      5000,
    );
    // The reconnected listener must be the one that hears this.
    await waitFor(
      async () =>
        (await db.query(`SELECT 1 FROM pg_stat_activity WHERE datname = $1 AND application_name = 'pgbridge listener default'`, [db.name]))
          .rowCount === 1,
    );

    await db.query(`INSERT INTO items VALUES (2, 'after')`);
    await db.query(`UPDATE items SET name = 'after, changed' WHERE id = 2`);
    await waitFor(() => received().length === 3, 10_000, 'the events after the reconnection');
    assert.deepEqual(
      received().map((e) => [e.op, e.data]),
      [
        ['INSERT', { id: 1, name: 'before' }],
        ['INSERT', { id: 2, name: 'after' }],
        ['UPDATE', { id: 2, name: 'after, changed' }],
      ],
    );
    const code = await Promise.race([bridge.exited, new Promise((r) => setTimeout(r, 10, 'running'))]);
    assert.equal(code, 'running', 'the process is still running');
  });

  test('survives it twice in a row', async () => {
    for (let round = 0; round < 2; round++) {
      const before = bridge.logs().filter((e) => e.msg === 'listener reconnected').length;
      assert.ok((await terminateBackends(db.name, 'pgbridge listener')) >= 1);
      await waitFor(() => bridge.logs().filter((e) => e.msg === 'listener reconnected').length > before, 10_000, 'reconnection');
    }
    await waitFor(
      async () =>
        (await db.query(`SELECT 1 FROM pg_stat_activity WHERE datname = $1 AND application_name = 'pgbridge listener default'`, [db.name]))
          .rowCount === 1,
    );
    await db.query(`INSERT INTO items VALUES (3, 'third')`);
    await waitFor(() => received().some((e) => e.data.id === 3), 10_000, 'the event after two reconnections');
  });

  test('foreign NOTIFY payloads on the capture channel are ignored, and the bridge goes on', async () => {
    for (const payload of ['hello', 'null\u0001\u0001{}\u0001', '{"id":1}', '5\u0001\u0001{}\u0001', '']) {
      await db.query(`SELECT pg_notify('pgbridge', $1)`, [payload]);
    }
    await db.query(`INSERT INTO items VALUES (4, 'still here')`);
    await waitFor(() => received().some((e) => e.data.id === 4), 10_000, 'the event after the foreign notifications');
    const code = await Promise.race([bridge.exited, new Promise((r) => setTimeout(r, 10, 'running'))]);
    assert.equal(code, 'running', 'the process is still running');
  });

  test('a refused event (422) goes to the dead letters in notify mode too, once', async () => {
    await db.query(`INSERT INTO refused VALUES (1)`);
    await waitFor(async () => (await db.query(`SELECT 1 FROM pgbridge.dead_letters`)).rowCount === 1, 10_000, 'a dead letter');
    const { rows } = await db.query<{ sink: string; error: string; attempts: number; event_id: string }>(
      `SELECT sink, error, attempts, event_id FROM pgbridge.dead_letters`,
    );
    assert.equal(rows[0].sink, 'refuse');
    assert.match(rows[0].error, /422/);
    assert.equal(rows[0].attempts, 1);
    assert.equal(rows[0].event_id, received('/refuse')[0].id);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(received('/refuse').length, 1);
  });
});
