/**
 * An AMQP sink while rows stream in: the network to RabbitMQ dropped or
 * black-holed (behind a TCP proxy), the broker closing every connection
 * (rabbitmqctl close_all_connections), and the exchange deleted under the
 * publishing bridge (a channel error; declare: true redeclares it). Outbox
 * mode: every event arrives.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test, type TestContext } from 'node:test';
import { waitFor, type RunningBridge } from '../support/bridge.js';
import type { TestDatabase } from '../support/pg.js';
import { itemsDatabase } from '../integration/outbox-harness.js';
import { AMQP_URL, AmqpFarEnd, rabbitmqctl } from './amqp-far-end.js';
import { FAST_RETRY, resetItems, startBridge, streamThroughFault, untilAllArrived, type DeliveryMode } from './harness.js';
import { tallyNoLoss } from './tally.js';
import { TcpProxy } from './tcp-proxy.js';

const connectedCount = (bridge: RunningBridge): number => bridge.logs().filter((e) => e.msg === 'amqp sink connected').length;

describe('faults: AMQP sink', () => {
  let db: TestDatabase;

  before(async () => {
    db = await itemsDatabase();
  });
  after(async () => {
    await db?.drop();
  });

  interface Setup {
    readonly far: AmqpFarEnd;
    readonly bridge: RunningBridge;
    readonly proxy: TcpProxy;
  }

  async function setUp(t: TestContext, mode: DeliveryMode, throughProxy: boolean): Promise<Setup> {
    await resetItems(db);
    const far = new AmqpFarEnd();
    await far.start();
    t.after(() => far.stop());
    const broker = new URL(AMQP_URL);
    const proxy = new TcpProxy(broker.hostname, Number(broker.port || 5672));
    await proxy.start();
    t.after(() => proxy.stop());
    const url = new URL(AMQP_URL);
    if (throughProxy) url.port = String(proxy.port);
    const sink = {
      name: 'queue',
      type: 'amqp',
      url: url.toString(),
      exchange: far.exchange,
      heartbeat_s: 1,
      connect_timeout_ms: 1000,
      max_in_flight: 4,
      max_batch: 100,
      retry: FAST_RETRY,
    };
    const bridge = await startBridge(t, db, mode, [sink]);
    return { far, bridge, proxy };
  }

  async function finish(t: TestContext, fault: string, mode: DeliveryMode, far: AmqpFarEnd, sent: number[]): Promise<void> {
    await untilAllArrived(sent, () => far.arrivals());
    tallyNoLoss(t, fault, sent, far.arrivals(), mode);
  }

  test('outbox: every connection to RabbitMQ dropped for 1.5 s', async (t) => {
    const { far, bridge, proxy } = await setUp(t, 'outbox', true);
    const { sent } = await streamThroughFault({
      db,
      arrivals: () => far.arrivals(),
      inject: () => proxy.drop(),
      holdMs: 1500,
      recover: () => proxy.restore(),
    });
    await finish(t, 'amqp-drop', 'outbox', far, sent);
    assert.ok(connectedCount(bridge) >= 2, 'the sink reconnected');
  });

  test('outbox: RabbitMQ black-holed for 4 s (heartbeat 1 s)', async (t) => {
    const { far, bridge, proxy } = await setUp(t, 'outbox', true);
    const { sent } = await streamThroughFault({
      db,
      arrivals: () => far.arrivals(),
      inject: () => proxy.blackHole(),
      holdMs: 4000,
      recover: () => proxy.restore(),
    });
    await finish(t, 'amqp-black-hole', 'outbox', far, sent);
    assert.ok(connectedCount(bridge) >= 2, 'the sink noticed the silence and reconnected');
  });

  test('outbox: rabbitmqctl close_all_connections mid-stream', async (t) => {
    const { far, bridge } = await setUp(t, 'outbox', false);
    const { sent } = await streamThroughFault({
      db,
      arrivals: () => far.arrivals(),
      inject: () => rabbitmqctl('close_all_connections', 'test'),
      holdMs: 0,
      recover: () => waitFor(() => connectedCount(bridge) >= 2, 30_000, 'the sink to reconnect'),
    });
    await finish(t, 'amqp-close-all-connections', 'outbox', far, sent);
  });

  test('outbox: the exchange deleted under the publishing bridge is redeclared; in-flight events are retried', async (t) => {
    const { far, bridge } = await setUp(t, 'outbox', false);
    const { sent } = await streamThroughFault({
      db,
      arrivals: () => far.arrivals(),
      inject: () => far.deleteExchange(),
      holdMs: 0,
      recover: () => waitFor(() => connectedCount(bridge) >= 2, 30_000, 'the sink to reopen its channel'),
    });
    await finish(t, 'amqp-exchange-deleted', 'outbox', far, sent);
    const failures = bridge
      .logs()
      .filter((e) => e.msg === 'delivery failed, will retry')
      .map((e) => String(e.err));
    assert.ok(
      failures.some((err) => /NOT_FOUND - no exchange/.test(err)),
      `the channel error was logged: ${failures.slice(0, 3).join(' | ')}`,
    );
  });
});
