/**
 * An MQTT sink while rows stream in, against a Mosquitto of the test's own
 * (persistence on, so a restart keeps sessions and queued messages): the
 * network dropped or black-holed behind a TCP proxy, the broker restarted,
 * and the active bridge SIGKILLed with a standby taking over. The subscriber
 * connects to the broker directly, QoS 2 in a persistent session, so it
 * counts every message the broker accepted even across the restart. Outbox
 * mode: every event arrives; duplicates are counted.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test, type TestContext } from 'node:test';
import { installAndRun, RunningBridge, waitFor, writeConfig } from '../support/bridge.js';
import { MosquittoBroker, MqttSubscriber, SUBSCRIBER_ACL, type BrokerUser } from '../support/mqtt.js';
import type { TestDatabase } from '../support/pg.js';
import { itemsDatabase } from '../integration/outbox-harness.js';
import { arrivalOf, FAST_RETRY, resetItems, startBridge, streamThroughFault, untilAllArrived } from './harness.js';
import { tallyNoLoss, type Arrival } from './tally.js';
import { TcpProxy } from './tcp-proxy.js';

const publisher: BrokerUser = { name: 'bridge', password: 'faults:p@ss/word', acl: ['topic readwrite faults/#'] };
const reader: BrokerUser = { name: 'reader', password: 'reader-pw', acl: SUBSCRIBER_ACL };

const connectedCount = (bridge: RunningBridge): number => bridge.logs().filter((e) => e.msg === 'mqtt sink connected').length;

describe('faults: MQTT sink', () => {
  let db: TestDatabase;
  const broker = new MosquittoBroker({ users: [publisher, reader], persistence: true });

  before(async () => {
    db = await itemsDatabase();
    await broker.start();
  });
  after(async () => {
    await broker.dispose();
    await db?.drop();
  });

  interface Setup {
    readonly subscriber: MqttSubscriber;
    readonly proxy: TcpProxy;
    readonly sink: Record<string, unknown>;
    readonly arrivals: () => Arrival[];
  }

  async function setUp(t: TestContext, qos: 1 | 2, throughProxy: boolean): Promise<Setup> {
    await resetItems(db);
    const prefix = `faults/${randomBytes(4).toString('hex')}`;
    const subscriber = new MqttSubscriber({
      url: broker.url,
      username: reader.name,
      password: reader.password,
      filters: [`${prefix}/#`],
      qos: 2,
      persistent: true,
    });
    await subscriber.start();
    t.after(() => subscriber.stop());
    const proxy = new TcpProxy('127.0.0.1', broker.port);
    await proxy.start();
    t.after(() => proxy.stop());
    const sink = {
      name: 'mq',
      type: 'mqtt',
      url: broker.urlFor(publisher, throughProxy ? proxy.port : broker.port),
      topic: `${prefix}/{table}/{op}`,
      qos,
      keepalive_s: 1,
      timeout_ms: 1500,
      connect_timeout_ms: 1000,
      max_in_flight: 4,
      batch: { max_events: 100 },
      retry: FAST_RETRY,
    };
    return { subscriber, proxy, sink, arrivals: () => subscriber.received.map((m) => arrivalOf(m.body)) };
  }

  async function finish(t: TestContext, fault: string, setup: Setup, sent: number[]): Promise<void> {
    await untilAllArrived(sent, setup.arrivals);
    await setup.subscriber.settled();
    tallyNoLoss(t, fault, sent, setup.arrivals());
  }

  test('outbox: every connection to the broker dropped for 1.5 s', async (t) => {
    const setup = await setUp(t, 1, true);
    const bridge = await startBridge(t, db, 'outbox', [setup.sink]);
    const { sent } = await streamThroughFault({
      db,
      arrivals: setup.arrivals,
      inject: () => setup.proxy.drop(),
      holdMs: 1500,
      recover: () => setup.proxy.restore(),
    });
    await finish(t, 'mqtt-drop', setup, sent);
    assert.ok(connectedCount(bridge) >= 2, 'the sink reconnected');
  });

  test('outbox: the broker black-holed for 4 s (keep-alive 1 s, timeout_ms 1.5 s)', async (t) => {
    const setup = await setUp(t, 1, true);
    const bridge = await startBridge(t, db, 'outbox', [setup.sink]);
    const { sent } = await streamThroughFault({
      db,
      arrivals: setup.arrivals,
      inject: () => setup.proxy.blackHole(),
      holdMs: 4000,
      recover: () => setup.proxy.restore(),
    });
    await finish(t, 'mqtt-black-hole', setup, sent);
    assert.ok(connectedCount(bridge) >= 2, 'the sink noticed the silence and reconnected');
    const reasons = bridge
      .logs()
      .filter((e) => e.msg === 'mqtt sink disconnected')
      .map((e) => String(e.reason));
    assert.ok(reasons.length > 0, 'the loss was logged');
  });

  test('outbox, QoS 2: the broker restarted mid-stream (down 1 s)', async (t) => {
    const setup = await setUp(t, 2, false);
    const bridge = await startBridge(t, db, 'outbox', [setup.sink]);
    const { sent } = await streamThroughFault({
      db,
      arrivals: setup.arrivals,
      inject: () => broker.restart(1000),
      holdMs: 0,
      recover: () => waitFor(() => connectedCount(bridge) >= 2, 30_000, 'the sink to reconnect'),
    });
    await finish(t, 'mqtt-broker-restart', setup, sent);
  });

  test('outbox: two instances, SIGKILL the active one mid-stream, the standby takes over', async (t) => {
    const setup = await setUp(t, 1, false);
    const file = writeConfig({
      postgres: { url: db.url },
      delivery: 'outbox',
      capture: [{ table: 'public.items', ops: ['insert'] }],
      sinks: [setup.sink],
      outbox: { poll_interval_ms: 200 },
      http: { port: 0 },
      log: { level: 'info' },
      shutdown_timeout_ms: 2000,
    });
    const one = await installAndRun(file);
    t.after(() => one.kill('SIGKILL'));
    const two = new RunningBridge(file);
    t.after(() => two.kill('SIGKILL'));
    await two.waitForLog((e) => e.msg === 'another pgbridge instance delivers; standing by');
    let killedAt = 0;
    const { sent } = await streamThroughFault({
      db,
      arrivals: setup.arrivals,
      inject: async () => {
        killedAt = Date.now();
        await one.kill('SIGKILL');
      },
      holdMs: 0,
      recover: () => two.waitForLog((e) => typeof e.msg === 'string' && e.msg.includes('holding the delivery lock'), 15_000),
    });
    t.diagnostic(`takeover_ms=${Date.now() - killedAt}`);
    await finish(t, 'mqtt-standby-takeover', setup, sent);
    assert.ok(connectedCount(two) >= 1, 'the standby published');
  });
});
