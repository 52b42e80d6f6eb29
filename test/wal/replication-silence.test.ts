/**
 * wal mode: the replication connection alone stops bringing anything from the
 * server, without being closed (a NAT or firewall that forgot it), while the
 * lock's, the listener's and the pool's connections keep working, and the
 * server keeps hearing the bridge's status updates, so its walsender lives on,
 * holding the slot. The bridge must notice by itself, end that walsender,
 * stream again, and deliver every row. Cut for real by a TCP proxy; counted at
 * the far end.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { cli, RunningBridge, showingLogOnFailure, waitFor, writeConfig } from '../support/bridge.js';
import { createTestDatabase, type TestDatabase } from '../support/pg.js';
import { proxiedDatabase } from '../support/pg-proxy.js';
import { freePort } from '../support/tcp.js';
import { dropSlots, slotName, streaming } from '../support/wal.js';
import type { TcpProxy } from '../faults/tcp-proxy.js';

const ROWS = 50;
/** The server's wal_sender_timeout for this test's sessions: the bridge gives up on silence past it (plus 5 s to ask). */
const SENDER_TIMEOUT = '3s';

let db: TestDatabase | undefined;
let proxy: TcpProxy | undefined;
let bridge: RunningBridge | undefined;

after(async () => {
  await bridge?.kill('SIGKILL');
  await proxy?.stop();
  if (db) await dropSlots(db);
  await db?.drop();
});

test('a silent replication connection is noticed and replaced; every row delivered', async () => {
  db = await createTestDatabase();
  await db.query('CREATE TABLE items (id int PRIMARY KEY)');
  const proxied = await proxiedDatabase(db);
  proxy = proxied.proxy;
  const url = new URL(proxied.url);
  url.searchParams.set('options', `-c wal_sender_timeout=${SENDER_TIMEOUT}`);
  const port = await freePort();
  const config = writeConfig({
    postgres: { url: url.toString() },
    delivery: 'wal',
    // Status updates more often than the server's timeout: they keep the stranded walsender alive.
    wal: { slot: slotName(db), status_interval_ms: 1000 },
    capture: [{ table: 'items' }],
    sinks: [{ name: 'out', type: 'stdout' }],
    http: { port, host: '127.0.0.1' },
  });
  assert.equal((await cli(['install', '-c', config])).code, 0);
  const running = new RunningBridge(config);
  bridge = running;
  await running.ready();
  await streaming(running);
  const delivered = (): Set<number> => {
    const ids = new Set<number>();
    for (const event of running.stdoutEvents<{ data: { id: number } }>()) ids.add(event.data.id);
    return ids;
  };
  await db.query(`INSERT INTO items SELECT generate_series(1, ${ROWS})`);
  await waitFor(() => delivered().size === ROWS, 15_000, 'the rows before');

  proxy.strand((hello) => hello.includes('replication\0'), true);
  await db.query(`INSERT INTO items SELECT generate_series(${ROWS + 1}, ${2 * ROWS})`);
  const logged = (text: string) => running.logs().some((e) => typeof e.err === 'string' && e.err.includes(text));
  await showingLogOnFailure(
    running,
    waitFor(() => delivered().size === 2 * ROWS, 30_000, `${2 * ROWS} rows delivered`),
  );
  assert.ok(logged('the replication connection stopped answering'), 'the silent connection is what was noticed');
  assert.ok(
    running.logs().some((e) => e.msg === 'ended the server sessions of connections that stopped answering'),
    'the walsender it left ended, which held the slot',
  );
  const ready = (await (await fetch(`http://127.0.0.1:${port}/readyz`)).json()) as { status: string };
  assert.equal(ready.status, 'ready');
});
