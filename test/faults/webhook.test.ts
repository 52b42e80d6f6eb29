/**
 * A webhook behind a TCP proxy that drops every connection, or swallows them
 * for longer than the sink's timeout, while rows stream in. Outbox mode loses
 * nothing; notify mode keeps the undelivered events in memory and loses nothing either.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test, type TestContext } from 'node:test';
import type { TestDatabase } from '../support/pg.js';
import { WebhookServer } from '../support/webhook-server.js';
import { itemsDatabase } from '../integration/outbox-harness.js';
import { resetItems, startBridge, streamThroughFault, untilAllArrived, webhookArrivals, webhookSinkConfig, type DeliveryMode } from './harness.js';
import { tallyNoLoss } from './tally.js';
import { TcpProxy } from './tcp-proxy.js';

describe('faults: webhook behind a proxy', () => {
  let db: TestDatabase;

  before(async () => {
    db = await itemsDatabase();
  });
  after(async () => {
    await db?.drop();
  });

  async function run(t: TestContext, mode: DeliveryMode, fault: 'drop' | 'black-hole', holdMs: number): Promise<void> {
    await resetItems(db);
    const hook = new WebhookServer();
    await hook.start();
    t.after(() => hook.stop());
    const url = new URL(hook.url);
    const proxy = new TcpProxy('127.0.0.1', Number(url.port));
    await proxy.start();
    t.after(() => proxy.stop());
    const bridge = await startBridge(t, db, mode, [webhookSinkConfig(`http://${proxy.address}/hook`)]);

    const arrivals = () => webhookArrivals(hook);
    const { sent } = await streamThroughFault({
      db,
      arrivals,
      inject: () => (fault === 'drop' ? proxy.drop() : proxy.blackHole()),
      holdMs,
      recover: () => proxy.restore(),
    });
    await untilAllArrived(sent, arrivals);
    tallyNoLoss(t, `webhook-${fault}`, sent, arrivals(), mode);
    assert.ok(
      bridge.logs().some((e) => e.msg === 'delivery failed, will retry'),
      'the bridge noticed the fault',
    );
  }

  test('outbox: every connection dropped for 1.5 s', (t) => run(t, 'outbox', 'drop', 1500));
  test('outbox: black hole for 2.5 s (sink timeout 1 s)', (t) => run(t, 'outbox', 'black-hole', 2500));
  test('notify: every connection dropped for 1.5 s (undelivered events wait in memory)', (t) => run(t, 'notify', 'drop', 1500));
  test('notify: black hole for 2.5 s', (t) => run(t, 'notify', 'black-hole', 2500));
});
