/**
 * A warning about a table is said once per run: the stream starts again after
 * a lost connection, and must not say it again each time.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { RunningBridge, showingLogOnFailure, waitFor, writeConfig } from '../support/bridge.js';
import { createTestDatabase, terminateBackends, type TestDatabase } from '../support/pg.js';
import { WebhookServer } from '../support/webhook-server.js';
import { endWalTest, installedAndStreaming, slotName, STREAMING } from '../support/wal.js';

describe('wal mode: warnings once per run', () => {
  let db: TestDatabase;
  let bridge: RunningBridge;
  const hook = new WebhookServer();

  const delivered = (): number => new Set((hook.delivered() as Array<{ id: string }>).map((e) => e.id)).size;
  const logged = (text: string): number => bridge.logs().filter((e) => typeof e.msg === 'string' && e.msg.includes(text)).length;

  before(async () => {
    db = await createTestDatabase('pgbridge_walonce');
    await db.query(`CREATE TABLE h (id int PRIMARY KEY, n int)`);
    const file = writeConfig({
      postgres: { url: db.url },
      delivery: 'wal',
      wal: { slot: slotName(db), heartbeat_interval_ms: 500, status_interval_ms: 500 },
      // UPDATE is published: the bridge applies the `where` itself.
      capture: [{ table: 'h', where: '100 / n > 0' }],
      channels: [{ name: 'jobs' }],
      sinks: [{ name: 'hook', type: 'webhook', url: await hook.start() }],
      http: { port: 0 },
    });
    bridge = await installedAndStreaming(file);
  });

  after(async () => {
    await endWalTest(db, bridge);
    await hook.stop();
  });

  test('a `where` the bridge cannot evaluate for a row warns once per table and run, across reconnections', async () => {
    await db.query(`INSERT INTO h VALUES (1, 0)`);
    await showingLogOnFailure(
      bridge,
      waitFor(() => delivered() === 1, 30_000, 'h 1 delivered unfiltered'),
    );
    assert.equal(await terminateBackends(db.name, 'pgbridge replication'), 1);
    await waitFor(() => logged(STREAMING) === 2, 30_000, 'the stream back');
    await db.query(`INSERT INTO h VALUES (2, 0)`);
    await showingLogOnFailure(
      bridge,
      waitFor(() => delivered() === 2, 30_000, 'h 2 delivered unfiltered'),
    );
    assert.equal(logged('delivered unfiltered'), 1, 'one warning for public.h in this run');
  });

  test('a channel message whose payload is not UTF-8: delivered with U+FFFD, said once per channel', async () => {
    const before = delivered();
    for (const bytes of ['\\x7b2262223a22ff227d', '\\xdeadbeef00ff'])
      await db.query(`SELECT pg_logical_emit_message(true, 'pgbridge:jobs', '${bytes}'::bytea)`);
    await showingLogOnFailure(
      bridge,
      waitFor(() => delivered() === before + 2, 30_000, 'both messages delivered'),
    );
    const payloads = (hook.delivered() as Array<{ channel?: string; payload: unknown }>).filter((e) => e.channel === 'jobs').map((e) => e.payload);
    assert.deepEqual(payloads[0], { b: '\ufffd' });
    assert.ok(typeof payloads[1] === 'string' && payloads[1].includes('\ufffd'), JSON.stringify(payloads[1]));
    assert.equal(logged('is not valid UTF-8'), 1);
  });
});
