import type pg from 'pg';
import { errorMessage } from '../errors.js';

/** How long an install runs before it says what it is doing, and how often after that. */
const FIRST_REPORT_MS = 1000;
const REPORT_EVERY_MS = 1000;

/** What the install's session is doing, as another session sees it in pg_stat_activity. */
export interface InstallActivity {
  readonly elapsedS: number;
  /** pg_stat_activity's wait_event_type and wait_event, e.g. "Lock relation"; null while it runs. */
  readonly waitingFor: string | null;
  /** The sessions it waits for (pg_blocking_pids), each with how long its transaction has been open. */
  readonly blockedBy: ReadonlyArray<{ readonly pid: number; readonly application: string; readonly inTransactionS: number | null }>;
}

const ACTIVITY_SQL = `
SELECT CASE WHEN a.wait_event_type IS NULL THEN NULL ELSE a.wait_event_type || ' ' || a.wait_event END AS waiting_for,
       coalesce((SELECT json_agg(json_build_object('pid', b.pid, 'application', b.application_name,
                                                    'in_transaction_s', round(extract(epoch FROM now() - b.xact_start))::int))
                   FROM pg_stat_activity b WHERE b.pid = ANY(pg_blocking_pids(a.pid))), '[]') AS blocked_by
  FROM pg_stat_activity a WHERE a.pid = $1`;

interface ActivityRow {
  waiting_for: string | null;
  blocked_by: Array<{ pid: number; application: string; in_transaction_s: number | null }>;
}

/**
 * Install is one transaction of catalog changes: on a large or busy table
 * what takes long is waiting (a lock a long transaction holds, a slot waiting
 * for running transactions to end). Past a second, this reports once a second
 * what the install's session waits for and who holds it up, read from a
 * session of its own; stops when `done` settles.
 */
export async function watchInstall(
  observer: () => Promise<pg.Client>,
  installPid: number,
  done: Promise<unknown>,
  report: (activity: InstallActivity) => void,
): Promise<void> {
  const startedAt = Date.now();
  let finished = false;
  const over = done.then(
    () => (finished = true),
    () => (finished = true),
  );
  // Unref'd: a finished install exits at once, not a second later.
  const pause = (ms: number) => Promise.race([over, new Promise((resolve) => setTimeout(resolve, ms).unref())]);
  await pause(FIRST_REPORT_MS);
  if (finished) return;
  let db: pg.Client | undefined;
  try {
    db = await observer();
    while (!finished) {
      const { rows } = await db.query<ActivityRow>(ACTIVITY_SQL, [installPid]);
      if (finished || rows.length === 0) break;
      report({
        elapsedS: Math.round((Date.now() - startedAt) / 1000),
        waitingFor: rows[0].waiting_for,
        blockedBy: rows[0].blocked_by.map((b) => ({ pid: b.pid, application: b.application, inTransactionS: b.in_transaction_s })),
      });
      await pause(REPORT_EVERY_MS);
    }
  } catch (err) {
    // Progress is a courtesy: the install itself goes on and reports its own outcome.
    if (!finished) report({ elapsedS: Math.round((Date.now() - startedAt) / 1000), waitingFor: `unknown (${errorMessage(err)})`, blockedBy: [] });
  } finally {
    await db?.end().catch(() => {});
  }
}

/** One line for a terminal: elapsed time, and what the install waits for. */
export function describeActivity(verb: string, a: InstallActivity): string {
  if (a.waitingFor === null) return `${verb}: running for ${a.elapsedS} s`;
  const holders = a.blockedBy.map(
    (b) =>
      `pid ${b.pid}${b.application ? ` (${b.application})` : ''}${b.inTransactionS === null ? '' : `, in a transaction for ${b.inTransactionS} s`}`,
  );
  const by = holders.length > 0 ? ` held by ${holders.join('; ')}` : '';
  return `${verb}: waiting for ${a.waitingFor}${by} for ${a.elapsedS} s`;
}
