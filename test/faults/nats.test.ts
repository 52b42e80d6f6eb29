/**
 * A NATS JetStream sink while rows stream in: the network to nats-server
 * dropped or black-holed (behind a TCP proxy), the shared nats-server itself
 * restarted, and the active bridge SIGKILLed with a standby taking over.
 * Outbox mode: every event arrives, counted by a JetStream consumer; events
 * published again after a fault are stored once (Nats-Msg-Id), and what
 * JetStream dropped as duplicates is counted from the bridge's logs.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test, type TestContext } from 'node:test';
import { installAndRun, RunningBridge, waitFor, writeConfig } from '../support/bridge.js';
import { NATS_ADDRESS } from '../support/nats.js';
import type { TestDatabase } from '../support/pg.js';
import { itemsDatabase } from '../integration/outbox-harness.js';
import { FAST_RETRY, resetItems, startBridge, streamThroughFault, untilAllArrived } from './harness.js';
import { NatsFarEnd, restartNatsServer } from './nats-far-end.js';
import { tallyNoLoss } from './tally.js';
import { TcpProxy } from './tcp-proxy.js';

const connectedCount = (...bridges: RunningBridge[]): number =>
  bridges.flatMap((b) => b.logs()).filter((e) => e.msg === 'nats sink connected').length;

/** Events JetStream reported as duplicates of ones it already stored (a redelivery after the fault). */
const droppedAsDuplicates = (...bridges: RunningBridge[]): number =>
  bridges
    .flatMap((b) => b.logs())
    .filter((e) => e.msg === 'JetStream dropped redelivered events as duplicates')
    .reduce((n, e) => n + Number(e.duplicates), 0);

describe('faults: NATS JetStream sink', () => {
  let db: TestDatabase;
  const [host, port] = NATS_ADDRESS.split(':');

  before(async () => {
    db = await itemsDatabase();
  });
  after(async () => {
    await db?.drop();
  });

  async function farEnd(t: TestContext): Promise<NatsFarEnd> {
    const far = new NatsFarEnd();
    await far.start();
    t.after(() => far.stop());
    return far;
  }

  function sinkConfig(far: NatsFarEnd, address: string): object {
    return {
      name: 'js',
      type: 'nats',
      url: `nats://${address}`,
      stream: far.stream,
      subject: far.subject,
      timeout_ms: 1500,
      connect_timeout_ms: 1000,
      ping_interval_ms: 1000,
      max_in_flight: 4,
      max_batch: 100,
      retry: FAST_RETRY,
    };
  }

  async function finish(t: TestContext, fault: string, far: NatsFarEnd, sent: number[], bridges: RunningBridge[]): Promise<void> {
    await untilAllArrived(sent, () => far.arrivals());
    const stored = await far.stored();
    const counts = tallyNoLoss(t, fault, sent, stored);
    t.diagnostic(
      `${fault}: JetStream dropped ${droppedAsDuplicates(...bridges)} redelivered events as duplicates; the stream holds ${counts.duplicated} duplicates`,
    );
    assert.equal(counts.duplicated, 0, 'Nats-Msg-Id deduplication stores a redelivered event once');
  }

  async function throughProxy(t: TestContext): Promise<{ far: NatsFarEnd; bridge: RunningBridge; proxy: TcpProxy }> {
    await resetItems(db);
    const far = await farEnd(t);
    const proxy = new TcpProxy(host, Number(port));
    await proxy.start();
    t.after(() => proxy.stop());
    const bridge = await startBridge(t, db, 'outbox', [sinkConfig(far, proxy.address)]);
    return { far, bridge, proxy };
  }

  test('outbox: every connection to nats-server dropped for 1.5 s', async (t) => {
    const { far, bridge, proxy } = await throughProxy(t);
    const { sent } = await streamThroughFault({
      db,
      arrivals: () => far.arrivals(),
      inject: () => proxy.drop(),
      holdMs: 1500,
      recover: () => proxy.restore(),
    });
    await finish(t, 'nats-drop', far, sent, [bridge]);
    assert.ok(connectedCount(bridge) >= 2, 'the sink reconnected');
  });

  test('outbox: nats-server black-holed for 4 s (PubAck timeout 1.5 s, pings every 1 s)', async (t) => {
    const { far, bridge, proxy } = await throughProxy(t);
    const { sent } = await streamThroughFault({
      db,
      arrivals: () => far.arrivals(),
      inject: () => proxy.blackHole(),
      holdMs: 4000,
      recover: () => proxy.restore(),
    });
    await finish(t, 'nats-black-hole', far, sent, [bridge]);
    assert.ok(connectedCount(bridge) >= 2, 'the sink noticed the silence and reconnected');
    assert.ok(
      bridge.logs().some((e) => e.msg === 'nats sink disconnected'),
      'the lost connection was logged',
    );
  });

  test('outbox: the nats-server process restarted mid-stream (down 1 s); streams and their duplicate windows survive', async (t) => {
    await resetItems(db);
    const far = await farEnd(t);
    const bridge = await startBridge(t, db, 'outbox', [sinkConfig(far, NATS_ADDRESS)]);
    const { sent } = await streamThroughFault({
      db,
      arrivals: () => far.arrivals(),
      inject: () => restartNatsServer(1000),
      holdMs: 0,
      recover: () => waitFor(() => connectedCount(bridge) >= 2, 30_000, 'the sink to reconnect'),
    });
    await finish(t, 'nats-server-restart', far, sent, [bridge]);
  });

  test('outbox: two instances, the active one SIGKILLed mid-stream; the standby takes over and publishes the rest', async (t) => {
    await resetItems(db);
    const far = await farEnd(t);
    const file = writeConfig({
      postgres: { url: db.url },
      delivery: 'outbox',
      capture: [{ table: 'public.items', ops: ['insert'] }],
      sinks: [sinkConfig(far, NATS_ADDRESS)],
      outbox: { poll_interval_ms: 200 },
      http: { port: 0 },
      log: { level: 'info' },
      shutdown_timeout_ms: 2000,
    });
    const active = await installAndRun(file);
    t.after(() => active.kill('SIGKILL'));
    const standby = new RunningBridge(file);
    t.after(() => standby.kill('SIGKILL'));
    await standby.waitForLog((e) => e.msg === 'another pgbridge instance delivers; standing by');
    let takeoverMs = 0;
    const { sent } = await streamThroughFault({
      db,
      arrivals: () => far.arrivals(),
      inject: async () => {
        const killedAt = Date.now();
        await active.kill('SIGKILL');
        await standby.waitForLog((e) => typeof e.msg === 'string' && e.msg.includes('holding the delivery lock'), 15_000);
        takeoverMs = Date.now() - killedAt;
      },
      holdMs: 0,
      recover: () => waitFor(() => connectedCount(standby) >= 1, 15_000, 'the standby to connect its sink'),
    });
    await finish(t, 'nats-standby-takeover', far, sent, [active, standby]);
    t.diagnostic(`takeover_ms=${takeoverMs}`);
  });
});
