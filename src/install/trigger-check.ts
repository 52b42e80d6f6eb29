import type pg from 'pg';
import type { BridgeConfig } from '../config/types.js';
import { errorMessage } from '../errors.js';
import { captureDrift, type CaptureDrift } from './capture-drift.js';
import { functionsWithoutRenderSettings } from './catalog.js';
import { InstallError, planInstall, type CaptureInstallPlan } from './plan.js';

/**
 * Whether the installed triggers still match the config and the tables: a
 * captured column renamed or dropped since install makes the trigger, and with
 * it the user's own writes, fail until the config is fixed and install runs
 * again; a trigger installed from another config (or by an older pgbridge)
 * filters and writes as that one said.
 */
export async function triggerCaptureState(config: BridgeConfig, db: pg.ClientBase): Promise<string> {
  let plan: CaptureInstallPlan;
  try {
    plan = await planInstall(config, db);
  } catch (err) {
    if (err instanceof InstallError) return `FAIL: ${err.message}; writes to it may fail until the config is fixed and \`pgbridge install\` runs`;
    throw err;
  }
  let drift: CaptureDrift;
  try {
    drift = await captureDrift(db, config.instance, plan.captures);
  } catch (err) {
    // Its probe needs TEMP on the database, as install's check of a `where` does: said here, not as a lost connection.
    return `FAIL: could not compare the installed triggers with the config: ${errorMessage(err)}`;
  }
  const reasons = [
    drift.missing.length > 0 ? `not captured yet: ${drift.missing.join(', ')}` : '',
    drift.differing.length > 0 ? `installed trigger differs from the config: ${drift.differing.join(', ')}` : '',
    drift.unconfigured.length > 0 ? `installed but no longer in the config: ${drift.unconfigured.join(', ')}` : '',
    (await functionsWithoutRenderSettings(db, config.instance)).length > 0
      ? "capture functions of an older install render values with the writer's session settings"
      : '',
  ].filter(Boolean);
  if (reasons.length > 0) return `FAIL: ${reasons.join('; ')}; run \`pgbridge install\``;
  return `ok (${config.capture.length} table(s))`;
}
