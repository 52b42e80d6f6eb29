import type { BridgeConfig } from '../config/types.js';
import { planInstall, planUninstall, type InstallPlan } from '../install/plan.js';
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
    await db.query(p.sql).catch(async (err) => {
      await db.query('ROLLBACK').catch(() => {});
      throw err;
    });
    return p.changes;
  });
  for (const line of changes) process.stderr.write(`pgbridge ${verb}: ${line}\n`);
  process.stderr.write(`pgbridge ${verb}: done (${config.file}, instance ${config.instance})\n`);
  return 0;
}

export const installCommand = (config: BridgeConfig, _s: Scrubber) => apply(config, planInstall, 'install');
export const uninstallCommand = (config: BridgeConfig, _s: Scrubber) => apply(config, planUninstall, 'uninstall');

export async function sqlCommand(config: BridgeConfig): Promise<number> {
  const plan = await withClient(config, (db) => planInstall(config, db));
  process.stdout.write(plan.sql);
  return 0;
}
