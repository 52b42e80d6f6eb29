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
});
