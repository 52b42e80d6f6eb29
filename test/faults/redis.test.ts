/**
 * A Redis sink while rows stream in, outbox mode: the network to Redis
 * dropped or black-holed (behind a TCP proxy), the Redis server restarted,
 * and the active bridge SIGKILLed with a standby taking over. Counted at a
 * consumer following the stream with XREAD: every event arrives,
 * duplicates (at-least-once redeliveries, same id) counted.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, test, type TestContext } from 'node:test';
import { promisify } from 'node:util';
import { installAndRun, RunningBridge, waitFor, writeConfig } from '../support/bridge.js';
import type { TestDatabase } from '../support/pg.js';
import { REDIS_START, REDIS_URL, redisAdmin } from '../support/redis.js';
import { itemsDatabase } from '../integration/outbox-harness.js';
import { FAST_RETRY, resetItems, streamThroughFault, untilAllArrived } from './harness.js';
import { RedisFarEnd } from './redis-far-end.js';
import { printCounts, tally, tallyNoLoss } from './tally.js';
import { TcpProxy } from './tcp-proxy.js';

const run = promisify(execFile);
const connectedCount = (bridge: RunningBridge): number => bridge.logs().filter((e) => e.msg === 'redis sink connected').length;
const target = new URL(REDIS_URL);

/** `redis-cli shutdown nosave`, then the server started again as CI starts it; resolves once it answers PING. */
async function restartRedis(): Promise<void> {
  await run('redis-cli', ['-h', target.hostname, '-p', target.port || '6379', 'shutdown', 'nosave']).catch(() => undefined);
  await startRedis();
}

async function startRedis(): Promise<void> {
  const ping = () =>
    run('redis-cli', ['-h', target.hostname, '-p', target.port || '6379', 'ping']).then(
      (r) => r.stdout.trim() === 'PONG',
      () => false,
    );
  if (await ping()) return;
  await run(REDIS_START[0], REDIS_START.slice(1));
  await waitFor(ping, 30_000, 'redis-server to answer PING');
}

describe('faults: Redis sink', () => {
  let db: TestDatabase;

  before(async () => {
    db = await itemsDatabase();
  });
  after(async () => {
    await db?.drop();
  });

  interface Setup {
    readonly far: RedisFarEnd;
    readonly proxy: TcpProxy;
    readonly config: string;
  }

  async function setUp(t: TestContext, throughProxy: boolean): Promise<Setup> {
    await resetItems(db);
    const far = new RedisFarEnd();
    far.start();
    t.after(() => far.stop());
    const proxy = new TcpProxy(target.hostname, Number(target.port || 6379));
    await proxy.start();
    t.after(() => proxy.stop());
    const url = new URL(REDIS_URL);
    if (throughProxy) url.port = String(proxy.port);
    const sink = {
      name: 'streams',
      type: 'redis',
      url: url.toString(),
      stream: far.stream,
      timeout_ms: 1500,
      connect_timeout_ms: 1000,
      max_in_flight: 4,
      max_batch: 100,
      retry: FAST_RETRY,
    };
    const config = writeConfig({
      postgres: { url: db.url },
      delivery: 'outbox',
      capture: [{ table: 'public.items', ops: ['insert'] }],
      sinks: [sink],
      outbox: { poll_interval_ms: 200 },
      http: { port: 0 },
      log: { level: 'info' },
      shutdown_timeout_ms: 2000,
    });
    return { far, proxy, config };
  }

  async function bridgeFor(t: TestContext, config: string): Promise<RunningBridge> {
    const bridge = await installAndRun(config);
    t.after(() => bridge.kill('SIGKILL'));
    return bridge;
  }

  async function finish(t: TestContext, fault: string, far: RedisFarEnd, sent: number[]): Promise<void> {
    await untilAllArrived(sent, () => far.arrivals());
    tallyNoLoss(t, fault, sent, far.arrivals());
  }

  test('outbox: every connection to Redis dropped for 1.5 s', async (t) => {
    const { far, proxy, config } = await setUp(t, true);
    const bridge = await bridgeFor(t, config);
    const { sent } = await streamThroughFault({
      db,
      arrivals: () => far.arrivals(),
      inject: () => proxy.drop(),
      holdMs: 1500,
      recover: () => proxy.restore(),
    });
    await finish(t, 'redis-drop', far, sent);
    assert.ok(connectedCount(bridge) >= 2, 'the sink reconnected');
  });

  test('outbox: Redis black-holed for 4 s (sink timeout 1.5 s)', async (t) => {
    const { far, proxy, config } = await setUp(t, true);
    const bridge = await bridgeFor(t, config);
    const { sent } = await streamThroughFault({
      db,
      arrivals: () => far.arrivals(),
      inject: () => proxy.blackHole(),
      holdMs: 4000,
      recover: () => proxy.restore(),
    });
    await finish(t, 'redis-black-hole', far, sent);
    const failures = bridge
      .logs()
      .filter((e) => e.msg === 'delivery failed, will retry')
      .map((e) => String(e.err));
    assert.ok(
      failures.some((err) => /no reply/.test(err)),
      `the silence was noticed: ${failures.slice(0, 3).join(' | ')}`,
    );
    assert.ok(connectedCount(bridge) >= 2, 'the sink reconnected');
  });

  /**
   * Redis runs here without persistence (--save "" --appendonly no): a restart
   * empties it, and an entry XADD confirmed but not yet read by the consumer
   * would be lost by Redis, not by pgbridge. So writes are paused first
   * (CLIENT PAUSE WRITE: the bridge's XADDs wait unanswered, reads go on), the
   * consumer reads everything confirmed, then the server shuts down with
   * those XADDs in flight and comes back empty: they must be sent again.
   */
  test('outbox: the Redis server restarted (shutdown nosave) with XADDs in flight', async (t) => {
    const { far, config } = await setUp(t, false);
    const bridge = await bridgeFor(t, config);
    let readBeforeRestart = 0;
    try {
      const { sent } = await streamThroughFault({
        db,
        arrivals: () => far.arrivals(),
        inject: async () => {
          const admin = await redisAdmin();
          await admin.sendCommand(['CLIENT', 'PAUSE', '10000', 'WRITE']);
          await admin.close();
          await new Promise((r) => setTimeout(r, 300)); // XADDs arrive and wait
          await far.caughtUp();
          readBeforeRestart = far.count;
          await restartRedis();
        },
        holdMs: 0,
        recover: () => waitFor(() => connectedCount(bridge) >= 2, 30_000, 'the sink to reconnect'),
      });
      await untilAllArrived(sent, () => far.arrivals());
      const counts = tally(sent, far.arrivals());
      printCounts(
        t,
        'redis-restart',
        'outbox',
        { ...counts, duplicates: counts.duplicated },
        { read_before_restart: readBeforeRestart, read_after_restart: far.count - readBeforeRestart },
      );
      assert.equal(counts.lost, 0, `lost rows: ${counts.lostIds.slice(0, 20).join(', ')}`);
      const failures = bridge
        .logs()
        .filter((e) => e.msg === 'delivery failed, will retry')
        .map((e) => String(e.err));
      assert.ok(
        failures.some((err) => /before EXEC was answered/.test(err)),
        `a batch was in flight when the server went: ${failures.slice(0, 3).join(' | ')}`,
      );
    } finally {
      await startRedis();
    }
  });

  test('outbox: two instances, the active one SIGKILLed mid-stream: the standby takes over and delivers the rest', async (t) => {
    const { far, config } = await setUp(t, false);
    const one = await bridgeFor(t, config);
    const two = new RunningBridge(config);
    t.after(() => two.kill('SIGKILL'));
    await two.waitForLog((e) => e.msg === 'another pgbridge instance delivers; standing by');
    let killedAt = 0;
    const { sent } = await streamThroughFault({
      db,
      arrivals: () => far.arrivals(),
      inject: async () => {
        killedAt = Date.now();
        await one.kill('SIGKILL');
      },
      holdMs: 0,
      recover: () => two.waitForLog((e) => typeof e.msg === 'string' && e.msg.includes('holding the delivery lock'), 30_000),
    });
    const takeoverMs = Date.now() - killedAt;
    await untilAllArrived(sent, () => far.arrivals());
    const counts = tallyNoLoss(t, 'redis-standby-takeover', sent, far.arrivals());
    assert.ok(counts.delivered > 0);
    // One connection checks the sink while standing by (for /readyz) and is closed at the takeover; delivery opens its own.
    const messages = two.logs().map((e) => e.msg);
    const tookOver = messages.findIndex((m) => typeof m === 'string' && m.includes('holding the delivery lock'));
    const connects = messages.flatMap((m, i) => (m === 'redis sink connected' ? [i] : []));
    assert.deepEqual(
      connects.map((i) => (i < tookOver ? 'standing by' : 'delivering')),
      ['standing by', 'delivering'],
      'the standby checked its sink once, then connected it once more on taking over',
    );
    t.diagnostic(`takeover_ms=${takeoverMs}`);
  });
});
