/**
 * The Listener's stop() whatever it is doing: connecting, LISTENing, connected.
 * A stop that came while the connection was being made used to leave it open
 * and wait on it forever: delivery never stopped, so the lock was never taken again.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pino from 'pino';
import { Listener } from '../../src/source/listener.js';
import { within } from '../support/bridge.js';
import { createTestDatabase, type TestDatabase } from '../support/pg.js';

let db: TestDatabase;

before(async () => {
  db = await createTestDatabase();
});

after(async () => {
  await db.drop();
});

const listenerBackends = async (): Promise<number> => {
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND application_name = 'pgbridge listener default'`,
    [db.name],
  );
  return rows[0].n;
};

function listener(connected: () => void = () => {}): Listener {
  return new Listener({ postgres: { url: db.url }, instance: 'default' }, ['pgbridge'], pino({ level: 'silent' }), {
    onNotification: () => {},
    onConnected: connected,
  });
}

test('stop() while the connection is being made: resolves and leaves no connection behind', async () => {
  for (let delayMs = 0; delayMs <= 20; delayMs += 2) {
    const l = listener();
    l.start();
    await new Promise((r) => setTimeout(r, delayMs));
    await within(5000, l.stop(), `stop() ${delayMs} ms after start()`);
  }
  await new Promise((r) => setTimeout(r, 200)); // the server notices closed sockets
  assert.equal(await listenerBackends(), 0);
});

test('stop() once connected: resolves and closes the connection', async () => {
  let connected!: () => void;
  const up = new Promise<void>((r) => (connected = r));
  const l = listener(connected);
  l.start();
  await within(10_000, up, 'connecting');
  assert.equal(await listenerBackends(), 1);
  await within(5000, l.stop(), 'stop()');
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(await listenerBackends(), 0);
});
