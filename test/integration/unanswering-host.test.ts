/**
 * A sink whose host accepts TCP connections and never answers (a black hole:
 * a half-dead broker, a firewall that swallows packets after the handshake).
 * Each client library leaves a connect attempt (and its timers) running: the
 * process must still end when its command does. SIGTERM exits 0 within
 * `shutdown_timeout_ms` (it used to hang until the hard stop, then exit 1) and
 * `check` exits 1 after its FAIL line (it used to never exit for NATS and Redis).
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { cli, RunningBridge, writeConfig } from '../support/bridge.js';
import { createTestDatabase, type TestDatabase } from '../support/pg.js';

const SHUTDOWN_TIMEOUT_MS = 3000;
const SINKS = {
  redis: (port: number) => ({ type: 'redis', url: `redis://127.0.0.1:${port}` }),
  amqp: (port: number) => ({ type: 'amqp', url: `amqp://127.0.0.1:${port}`, exchange: 'unanswered' }),
  nats: (port: number) => ({ type: 'nats', url: `nats://127.0.0.1:${port}`, stream: 'UNANSWERED' }),
  kafka: (port: number) => ({ type: 'kafka', brokers: [`127.0.0.1:${port}`] }),
};

let db: TestDatabase;
let blackHole: net.Server;
let port: number;
const sockets = new Set<net.Socket>();

before(async () => {
  db = await createTestDatabase();
  await db.query('CREATE TABLE items (id int PRIMARY KEY)');
  blackHole = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => blackHole.listen(0, '127.0.0.1', resolve));
  port = (blackHole.address() as net.AddressInfo).port;
});

after(async () => {
  const closed = new Promise((resolve) => blackHole.close(resolve));
  for (const socket of sockets) socket.destroy();
  await closed;
  await db?.drop();
});

function configFor(type: keyof typeof SINKS): string {
  return writeConfig({
    postgres: { url: db.url },
    instance: `unanswered_${type}`,
    shutdown_timeout_ms: SHUTDOWN_TIMEOUT_MS,
    capture: [{ table: 'items' }],
    sinks: [{ name: 'far', retry: { initial_ms: 100, max_ms: 500 }, ...SINKS[type](port) }],
    http: { port: 0 },
  });
}

for (const type of Object.keys(SINKS) as Array<keyof typeof SINKS>) {
  test(`${type}: SIGTERM exits 0 within shutdown_timeout_ms while the sink's host never answers`, async () => {
    const file = configFor(type);
    assert.equal((await cli(['install', '-c', file])).code, 0);
    const bridge = new RunningBridge(file);
    try {
      await bridge.waitForLog((e) => typeof e.msg === 'string' && e.msg.includes('holding the delivery lock'));
      await db.query('INSERT INTO items SELECT coalesce(max(id), 0) + 1 FROM items'); // an event waits for the sink too
      await new Promise((r) => setTimeout(r, 1000));
      const stoppingAt = performance.now();
      const code = await bridge.stop(SHUTDOWN_TIMEOUT_MS + 10_000);
      const tookMs = performance.now() - stoppingAt;
      assert.equal(code, 0, bridge.logLines.slice(-5).join('\n'));
      assert.ok(tookMs < SHUTDOWN_TIMEOUT_MS, `stopped in ${Math.round(tookMs)} ms`);
    } finally {
      await bridge.stop();
      await cli(['uninstall', '-c', file]);
    }
  });

  test(`${type}: check prints its FAIL line and exits 1 while the sink's host never answers`, async () => {
    const result = await cli(['check', '-c', configFor(type)]);
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stdout, /sink far: FAIL: /);
  });
}
