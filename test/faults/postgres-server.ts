/** The local Postgres 15 cluster, restarted for real by the fault tests. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import pg from 'pg';
import { waitFor } from '../support/bridge.js';
import { PG_ADMIN_URL } from '../support/pg.js';

const run = promisify(execFile);
const CLUSTER = ['--skip-systemctl-redirect', '15', 'main'];

/** Stops the cluster (fast: open sessions are ended); ensurePostgresRunning() starts it again. */
export async function stopPostgres(): Promise<void> {
  await run('pg_ctlcluster', [...CLUSTER, 'stop', '-m', 'fast'], { timeout: 120_000 });
}

export async function restartPostgres(): Promise<void> {
  await run('pg_ctlcluster', [...CLUSTER, 'restart'], { timeout: 120_000 });
}

async function accepting(): Promise<boolean> {
  const client = new pg.Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 2000 });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

/** For a finally block: starts the cluster if it is not running (a failed restart must not leave it down), then waits until it accepts connections. */
export async function ensurePostgresRunning(): Promise<void> {
  if (await accepting()) return;
  await run('pg_ctlcluster', [...CLUSTER, 'start'], { timeout: 120_000 }).catch(() => {}); // "already running" is fine
  await waitFor(accepting, 60_000, 'Postgres to accept connections');
}
