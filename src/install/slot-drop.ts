import { errorMessage } from '../errors.js';
import { literal } from '../schema/quote.js';
import { InstallError } from './install-error.js';
import { sqlComment } from './wal-sql.js';

/** A replication slot install or uninstall is about to drop, as it is now. */
export interface SlotDrop {
  readonly slot: string;
  /** The walsender streaming from it (a running `pgbridge run`), null when none. */
  readonly activePid: number | null;
  /** Changes a wal bridge would still deliver from it, at least; 0 when nothing could decode them (its publication is gone). */
  readonly undelivered: number;
  /** Why reading it failed, when it did: what it holds is then unknown. */
  readonly unreadable?: string;
}

const changes = (n: number): string => `${n} undelivered change${n === 1 ? '' : 's'}`;

export const activeSlotMessage = (slot: string, pid: number): string =>
  `a pgbridge run (walsender PID ${pid}) is streaming from replication slot ${slot}: stop it first`;

/** The way past a refusal that keeps this instance's dead letters and backfill state (uninstall drops them). */
const dropKnowingly = (slot: string): string => `SELECT pg_drop_replication_slot(${literal(slot)});`;

export const backlogMessage = (drop: SlotDrop): string =>
  `replication slot ${drop.slot} holds at least ${changes(drop.undelivered)}, which this install would drop; ` +
  'deliver them: run `pgbridge run` with the wal config until they are delivered (`pgbridge check` and `pgbridge status` show the slot lag), then install again; ' +
  `or drop them knowingly (\`${dropKnowingly(drop.slot)}\`, or \`pgbridge uninstall\` with the wal config), then install`;

export const unreadableMessage = (drop: SlotDrop): string =>
  `cannot tell whether replication slot ${drop.slot} holds undelivered changes (${drop.unreadable}); ` +
  `to drop it with whatever it holds: \`${dropKnowingly(drop.slot)}\` (or \`pgbridge uninstall\` with the wal config), then install`;

/** A line of the printed SQL (`pgbridge sql`) before the statement that drops the slot; undefined when there is nothing to warn of. */
export function backlogWarning(drop: SlotDrop): string | undefined {
  if (drop.unreadable !== undefined) return sqlComment(unreadableMessage(drop));
  if (drop.undelivered === 0) return undefined;
  return sqlComment(`replication slot ${drop.slot} holds at least ${changes(drop.undelivered)}: applying this drops them`);
}

/** What a change line adds about a slot's backlog ('' without one). */
export const backlogNote = (drop: SlotDrop): string => (drop.undelivered > 0 ? `, which held at least ${changes(drop.undelivered)}` : '');

/**
 * Why these slots must not be dropped now, or undefined: a running bridge
 * streams from one (dropping it would fail half way), or, for install, one
 * holds changes nobody has delivered, or could not be read (uninstall is the
 * way to drop them knowingly).
 */
export function slotDropRefusal(drops: readonly SlotDrop[], refuseBacklog: boolean): string | undefined {
  const active = drops.find((d) => d.activePid !== null);
  if (active?.activePid) return activeSlotMessage(active.slot, active.activePid);
  if (!refuseBacklog) return undefined;
  // Not knowing is not "nothing there": the slot stays until it is dropped knowingly.
  const unreadable = drops.find((d) => d.unreadable !== undefined);
  if (unreadable) return unreadableMessage(unreadable);
  const held = drops.find((d) => d.undelivered > 0);
  return held && backlogMessage(held);
}

/** Postgres' error for a slot a bridge started streaming from after the plan looked, in the words above. */
export function activeSlotError(err: unknown): InstallError | undefined {
  const found = /replication slot "(.+)" is active for PID (\d+)/.exec(errorMessage(err));
  return found ? new InstallError(activeSlotMessage(found[1], Number(found[2]))) : undefined;
}
