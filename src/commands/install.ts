import type { BridgeConfig } from '../config/types.js';
import { InstallError, planInstall, planUninstall, type InstallPlan } from '../install/plan.js';
import { activeSlotError, slotDropRefusal } from '../install/slot-drop.js';
import { describeActivity, watchInstall, type InstallActivity } from '../install/install-progress.js';
import { connectClient } from '../postgres.js';
import type { Scrubber } from '../secrets.js';
import type pg from 'pg';

async function withClient<T>(config: BridgeConfig, work: (db: pg.Client) => Promise<T>): Promise<T> {
  const db = await connectClient(config, 'install');
  try {
    return await work(db);
  } finally {
    await db.end().catch(() => {});
  }
}

async function apply(config: BridgeConfig, plan: (config: BridgeConfig, db: pg.Client) => Promise<InstallPlan>, verb: string): Promise<number> {
  const changes = await withClient(config, async (db) => {
    const p = await plan(config, db);
    // Only install refuses a backlog: uninstall is how to drop one knowingly.
    const refusal = slotDropRefusal(p.slotDrops, verb === 'install');
    if (refusal !== undefined) throw new InstallError(refusal);
    const running = db.query(p.sql).catch(async (err) => {
      await db.query('ROLLBACK').catch(() => {});
      throw activeSlotError(err) ?? err;
    });
    const output = progressOutput(verb);
    const progress = watchInstall(() => connectClient(config, `${verb} progress`), sessionPid(db), running, output.report);
    try {
      await running;
    } finally {
      await progress;
      output.end();
    }
    return p.changes;
  });
  for (const line of changes) process.stderr.write(`pgbridge ${verb}: ${line}\n`);
  process.stderr.write(`pgbridge ${verb}: done (${config.file}, instance ${config.instance})\n`);
  return 0;
}

const sessionPid = (db: pg.Client): number => (db as pg.Client & { processID: number }).processID;

/** A line redrawn in place on a terminal; a JSON line each time otherwise (CONTRACT §1: long work shows progress). */
function progressOutput(verb: string): { report: (activity: InstallActivity) => void; end: () => void } {
  let redrawn = false;
  return {
    report(activity) {
      if (process.stderr.isTTY) {
        process.stderr.write(`\r${describeActivity(`pgbridge ${verb}`, activity)}\x1b[K`);
        redrawn = true;
        return;
      }
      const { elapsedS, waitingFor, blockedBy } = activity;
      const blocked = blockedBy.map((b) => ({ pid: b.pid, application: b.application, in_transaction_s: b.inTransactionS }));
      process.stderr.write(`${JSON.stringify({ progress: verb, elapsed_s: elapsedS, waiting_for: waitingFor, blocked_by: blocked })}\n`);
    },
    end() {
      if (redrawn) process.stderr.write('\n');
    },
  };
}

export const installCommand = (config: BridgeConfig, _s: Scrubber) => apply(config, planInstall, 'install');
export const uninstallCommand = (config: BridgeConfig, _s: Scrubber) => apply(config, planUninstall, 'uninstall');

export async function sqlCommand(config: BridgeConfig): Promise<number> {
  const plan = await withClient(config, (db) => planInstall(config, db));
  process.stdout.write(plan.sql);
  return 0;
}
