/**
 * pgbridge's Postgres connections stop answering without being closed (a NAT
 * or firewall that forgot them; the server keeps its end): the bridge notices
 * within seconds, connects again, ends the sessions it left on the server
 * (the delivery lock's, the listener's, a pool connection's), and delivers
 * every event, in each delivery mode. Cut for real by a TCP proxy
 * between bridge and server; counted at the far end.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import pg from 'pg';
import { TcpProxy, type ConnectionRewrites } from '../faults/tcp-proxy.js';
import { cli, RunningBridge, showingLogOnFailure, waitFor, writeConfig } from '../support/bridge.js';
import { createTestDatabase, type TestDatabase } from '../support/pg.js';
import { proxiedDatabase } from '../support/pg-proxy.js';
import { closeEveryConnection, createPool } from '../../src/postgres.js';
import { dropSlots, slotName, streaming } from '../support/wal.js';
import { freePort } from '../support/tcp.js';

const ROWS = 50;

for (const delivery of ['outbox', 'notify', 'wal'] as const) {
  describe(`${delivery} mode, every connection to Postgres stranded`, () => {
    let db: TestDatabase;
    let proxy: TcpProxy;
    let bridge: RunningBridge;
    let base: string;

    after(async () => {
      await bridge?.kill('SIGKILL');
      await proxy?.stop();
      if (db) await dropSlots(db);
      await db?.drop();
    });

    const delivered = (): Set<number> => {
      const ids = new Set<number>();
      for (const line of bridge.stdoutLines) {
        if (line.startsWith('{')) ids.add((JSON.parse(line) as { data: { id: number } }).data.id);
      }
      return ids;
    };
    /** The bridge's sessions on the server, as pid and start time. */
    const sessions = async (): Promise<string[]> =>
      (
        await db.query<{ session: string }>(
          `SELECT pid || ' ' || application_name || ' ' || backend_start AS session FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'pgbridge%'`,
        )
      ).rows.map((r) => r.session);
    const logged = (text: string): boolean => bridge.logs().some((e) => typeof e.msg === 'string' && e.msg.includes(text));

    test('noticed, sessions on the server ended, every event delivered', async () => {
      db = await createTestDatabase();
      await db.query('CREATE TABLE items (id int PRIMARY KEY)');
      const proxied = await proxiedDatabase(db);
      proxy = proxied.proxy;
      const port = await freePort();
      base = `http://127.0.0.1:${port}`;
      const config = writeConfig({
        postgres: { url: proxied.url },
        delivery,
        ...(delivery === 'wal' ? { wal: { slot: slotName(db) } } : {}),
        capture: [{ table: 'items' }],
        sinks: [{ name: 'out', type: 'stdout' }],
        http: { port, host: '127.0.0.1' },
      });
      assert.equal((await cli(['install', '-c', config])).code, 0);
      bridge = new RunningBridge(config);
      await bridge.ready();
      if (delivery === 'wal') await streaming(bridge);
      await db.query(`INSERT INTO items SELECT generate_series(1, ${ROWS})`);
      await waitFor(() => delivered().size === ROWS, 15_000, 'the rows before');
      const before = await sessions();

      proxy.strand();
      if (delivery !== 'notify') await db.query(`INSERT INTO items SELECT generate_series(${ROWS + 1}, ${2 * ROWS})`);
      await showingLogOnFailure(
        bridge,
        waitFor(() => logged('stopped answering; closing it'), 30_000, 'a connection found not answering'),
      );
      await showingLogOnFailure(
        bridge,
        waitFor(async () => ((await (await fetch(`${base}/readyz`)).json()) as { status: string }).status === 'ready', 30_000, 'ready again'),
      );
      // Notify mode loses what is committed while nobody listens (the log says so); what comes after arrives.
      if (delivery === 'notify') await db.query(`INSERT INTO items SELECT generate_series(${ROWS + 1}, ${2 * ROWS})`);
      await showingLogOnFailure(
        bridge,
        waitFor(() => delivered().size === 2 * ROWS, 30_000, `${2 * ROWS} rows delivered`),
      );
      assert.ok(logged('ended the server sessions of connections that stopped answering'), 'the stranded sessions ended');
      const left = async (): Promise<string[]> => (await sessions()).filter((session) => before.includes(session));
      await waitFor(async () => (await left()).length === 0, 15_000, 'no session of before the cut on the server').catch(async (err: Error) => {
        throw new Error(`${err.message}: ${(await left()).join(', ')}`);
      });
      if (delivery === 'outbox')
        await waitFor(async () => (await db.query('SELECT 1 FROM pgbridge.outbox')).rowCount === 0, 15_000, 'the outbox empty');
    });
  });
}

test('every connection stranded while delivery starts (a start query waiting): noticed, and delivery goes on', { timeout: 90_000 }, async () => {
  const db = await createTestDatabase();
  const { proxy, url } = await proxiedDatabase(db);
  const blocker = new pg.Client(db.url);
  blocker.on('error', () => {});
  let bridge: RunningBridge | undefined;
  try {
    await db.query('CREATE TABLE items (id int PRIMARY KEY)');
    const config = writeConfig({ postgres: { url }, capture: [{ table: 'items' }], sinks: [{ name: 'out', type: 'stdout' }], http: { port: 0 } });
    assert.equal((await cli(['install', '-c', config])).code, 0);
    // The start's first query (the sweep of the outbox) waits behind this lock, so the cut comes while the source starts.
    await blocker.connect();
    await blocker.query('BEGIN');
    await blocker.query('LOCK TABLE pgbridge.outbox IN ACCESS EXCLUSIVE MODE');
    bridge = new RunningBridge(config);
    const running = bridge;
    const logged = (text: string): boolean => running.logs().some((e) => typeof e.msg === 'string' && e.msg.includes(text));
    await waitFor(
      async () =>
        logged('holding the delivery lock') &&
        (
          await db.query(
            `SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'pgbridge outbox' AND wait_event_type = 'Lock'`,
          )
        ).rowCount! > 0,
      15_000,
      'a start query waiting for the outbox table',
    );
    proxy.strand();
    await blocker.query('ROLLBACK');
    await showingLogOnFailure(
      running,
      waitFor(() => logged('stopped answering; closing it'), 30_000, 'the lock connection found not answering'),
    );
    await db.query('INSERT INTO items SELECT generate_series(1, 10)');
    const delivered = (): number => running.stdoutLines.filter((line) => line.startsWith('{')).length;
    await showingLogOnFailure(
      running,
      waitFor(() => delivered() === 10, 30_000, '10 rows delivered after the cut'),
    );
  } finally {
    await bridge?.kill('SIGKILL');
    await blocker.end().catch(() => {});
    await proxy.stop();
    await db.drop();
  }
});

test('SIGTERM while every connection to Postgres is stranded: exit 0 soon after shutdown_timeout_ms', async () => {
  const db = await createTestDatabase();
  const { proxy, url } = await proxiedDatabase(db);
  try {
    await db.query('CREATE TABLE items (id int PRIMARY KEY)');
    const config = writeConfig({
      postgres: { url },
      capture: [{ table: 'items' }],
      sinks: [{ name: 'out', type: 'stdout' }],
      http: { port: 0 },
      shutdown_timeout_ms: 2000,
    });
    assert.equal((await cli(['install', '-c', config])).code, 0);
    const bridge = new RunningBridge(config);
    await bridge.ready();
    proxy.strand();
    // A page read waiting on a stranded connection, as the reader's next wake-up makes.
    await db.query('INSERT INTO items VALUES (1)');
    const started = Date.now();
    const code = await bridge.stop();
    const took = Date.now() - started;
    assert.equal(code, 0, bridge.logLines.join('\n'));
    assert.ok(took < 2000 + 2500, `stopped in ${took} ms`);
  } finally {
    await proxy.stop();
    await db.drop();
  }
});

test('closeEveryConnection with a query in flight on a checked-out pool client: the query fails, the process lives', async () => {
  const db = await createTestDatabase();
  const pool = createPool({ postgres: { url: db.url } }, 'close test', { max: 1 });
  try {
    const client = await pool.connect();
    const sleeping = client.query('SELECT pg_sleep(5)');
    await new Promise((resolve) => setTimeout(resolve, 100));
    closeEveryConnection();
    await assert.rejects(sleeping, /Connection terminated/);
    client.release();
    const { rows } = await pool.query<{ one: number }>('SELECT 1 AS one');
    assert.equal(rows[0].one, 1, 'the pool connects again');
  } finally {
    await pool.end();
    await db.drop();
  }
});

/**
 * Server-to-client bytes of a connection accepted while `silence.on` pass up to
 * the startup's ReadyForQuery, then none: the connection is up, its first query
 * is never answered.
 */
function silentAfterStartup(silence: { on: boolean }): ConnectionRewrites {
  if (!silence.on) return {};
  let waiting = Buffer.alloc(0);
  let started = false;
  return {
    toClient: (chunk) => {
      if (started) return Buffer.alloc(0);
      waiting = Buffer.concat([waiting, chunk]);
      let end = 0;
      while (!started && waiting.length - end >= 5 && waiting.length - end >= 1 + waiting.readInt32BE(end + 1)) {
        started = waiting[end] === 0x5a; // 'Z', ReadyForQuery
        end += 1 + waiting.readInt32BE(end + 1);
      }
      const out = waiting.subarray(0, end);
      waiting = waiting.subarray(end);
      return out;
    },
  };
}

test('a pool connection whose first query is never answered is dropped: the pool connects again', { timeout: 30_000 }, async () => {
  const db = await createTestDatabase();
  const server = new URL(db.url);
  const silence = { on: true };
  const proxy = new TcpProxy(server.hostname, Number(server.port || 5432), { rewrites: () => silentAfterStartup(silence) });
  const proxied = new URL(db.url);
  proxied.port = String(await proxy.start());
  const pool = createPool({ postgres: { url: proxied.toString() } }, 'silenced test', { max: 1, connectionTimeoutMillis: 1000 });
  pool.on('error', () => {}); // as the bridge's pool: a lost connection is logged, not fatal
  try {
    await assert.rejects(pool.query('SELECT 1'), /Connection terminated/, 'the silenced connection fails');
    silence.on = false;
    const { rows } = await pool.query<{ one: number }>('SELECT 1 AS one');
    assert.equal(rows[0].one, 1, 'the pool connects again');
    assert.equal(proxy.accepted, 2);
  } finally {
    await pool.end();
    await proxy.stop();
    await db.drop();
  }
});
