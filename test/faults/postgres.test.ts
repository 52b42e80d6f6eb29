/**
 * Postgres faults while rows stream in: the backends of the listener, the
 * delivery lock and the outbox reader terminated (found by application_name), and,
 * last, a real server restart. Outbox mode loses nothing; notify mode loses
 * at most what was committed while it could not listen, and says so in the log.
 * The restart disrupts everyone on this machine: it runs once, for both modes at a time.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test, type TestContext } from 'node:test';
import { showingLogOnFailure, waitFor, type RunningBridge } from '../support/bridge.js';
import { terminateBackends, type TestDatabase } from '../support/pg.js';
import { WebhookServer } from '../support/webhook-server.js';
import { itemsDatabase } from '../integration/outbox-harness.js';
import {
  outageOf,
  resetItems,
  startBridge,
  streamThroughFault,
  untilAllArrived,
  webhookArrivals,
  webhookSinkConfig,
  type DeliveryMode,
  type FaultRun,
  type FaultSteps,
} from './harness.js';
import { ensurePostgresRunning, restartPostgres } from './postgres-server.js';
import { tallyBoundedLoss, tallyNoLoss } from './tally.js';

const LOCK_HELD = 'holding the delivery lock: this instance delivers';
const countLogs = (bridge: RunningBridge, msg: string): number => bridge.logs().filter((e) => e.msg === msg).length;

/** The warning CONTRACT §4 asks for: in notify mode, the log says changes made meanwhile are lost. */
const lossWarnings = (bridge: RunningBridge): number =>
  bridge.logs().filter((e) => e.level === 40 && typeof e.msg === 'string' && /notify mode.*lost/.test(e.msg)).length;

interface Target {
  readonly db: TestDatabase;
  readonly hook: WebhookServer;
  readonly bridge: RunningBridge;
  readonly mode: DeliveryMode;
}

describe('faults: Postgres', () => {
  const dbs: TestDatabase[] = [];

  before(async () => {
    dbs.push(await itemsDatabase(), await itemsDatabase());
  });
  after(async () => {
    await ensurePostgresRunning();
    for (const db of dbs) await db.drop();
  });

  async function target(t: TestContext, db: TestDatabase, mode: DeliveryMode): Promise<Target> {
    await resetItems(db);
    const hook = new WebhookServer();
    await hook.start();
    t.after(() => hook.stop());
    const bridge = await startBridge(t, db, mode, [webhookSinkConfig(hook.url)]);
    return { db, hook, bridge, mode };
  }

  function count(t: TestContext, fault: string, { hook, bridge, mode }: Target, run: FaultRun): Promise<void> {
    const arrivals = () => webhookArrivals(hook);
    if (mode === 'outbox') {
      return untilAllArrived(run.sent, arrivals).then(() => void tallyNoLoss(t, fault, run.sent, arrivals()));
    }
    const outage = outageOf(run);
    return untilAllArrived(run.sent, arrivals, outage).then(() => {
      tallyBoundedLoss(t, fault, run.sent, arrivals(), outage);
      assert.ok(lossWarnings(bridge) >= 1, 'notify mode: the log says that changes made while not listening are lost');
    });
  }

  /**
   * Terminates the bridge's backends named `pgbridge <component>`, then waits
   * until it listens again: the listener reconnects by itself; losing the lock
   * restarts delivery as a whole (standby, then lock again, with a fresh listener).
   */
  function terminating(x: Target, component: 'listener' | 'lock' | 'outbox'): Pick<FaultSteps, 'inject' | 'holdMs' | 'recover'> {
    const progress = (): number => {
      if (component === 'listener') return countLogs(x.bridge, 'listener reconnected');
      // Notify mode's outage lasts until the new phase's listener listens, not until the stop is logged.
      if (component === 'lock') return x.mode === 'notify' ? countLogs(x.bridge, 'listening for notifications') : countLogs(x.bridge, LOCK_HELD);
      return 0;
    };
    let before = 0;
    return {
      inject: async () => {
        before = progress();
        assert.ok((await terminateBackends(x.db.name, `pgbridge ${component}`)) >= 1, `a "pgbridge ${component}" backend was terminated`);
      },
      holdMs: 0,
      recover: () =>
        component === 'outbox'
          ? undefined
          : showingLogOnFailure(
              x.bridge,
              waitFor(() => progress() > before, 30_000, `the bridge to recover from losing its ${component} connection`),
            ),
    };
  }

  for (const component of ['listener', 'lock'] as const) {
    for (const mode of ['outbox', 'notify'] as const) {
      test(`${mode}: the ${component}'s backend terminated mid-stream`, async (t) => {
        const x = await target(t, dbs[0], mode);
        const run = await streamThroughFault({ db: x.db, arrivals: () => webhookArrivals(x.hook), ...terminating(x, component) });
        await count(t, `pg-terminate-${component}`, x, run);
      });
    }
  }

  test("outbox: the outbox reader's backends terminated mid-stream", async (t) => {
    const x = await target(t, dbs[0], 'outbox');
    const run = await streamThroughFault({ db: x.db, arrivals: () => webhookArrivals(x.hook), ...terminating(x, 'outbox') });
    await count(t, 'pg-terminate-outbox-reader', x, run);
  });

  // Keep last: it restarts the server every other test here (and on this machine) uses.
  test('outbox and notify at once: Postgres restarted mid-stream', async (t) => {
    try {
      const targets = [await target(t, dbs[0], 'outbox'), await target(t, dbs[1], 'notify')];
      let ready = 0;
      let restarted: Promise<void> | undefined;
      // Both streams must be flowing before the one restart that hits them both.
      const restartOnce = async (): Promise<void> => {
        ready++;
        await waitFor(() => ready === targets.length, 60_000, 'both streams to flow');
        restarted ??= restartPostgres();
        await restarted;
      };
      const recovered = (x: Target): Promise<void> =>
        showingLogOnFailure(
          x.bridge,
          x.mode === 'outbox'
            ? waitFor(() => countLogs(x.bridge, LOCK_HELD) >= 2, 60_000, 'the outbox bridge to deliver again')
            : waitFor(() => lossWarnings(x.bridge) >= 1, 60_000, 'the notify bridge to listen again and log the loss'),
        );
      const runs = await Promise.all(
        targets.map((x) =>
          streamThroughFault({
            db: x.db,
            arrivals: () => webhookArrivals(x.hook),
            inject: restartOnce,
            holdMs: 0,
            recover: () => recovered(x),
            firstId: 1,
          }),
        ),
      );
      for (const [i, x] of targets.entries()) await count(t, 'pg-restart', x, runs[i]);
    } finally {
      await ensurePostgresRunning();
    }
  });
});
