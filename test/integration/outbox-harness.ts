/**
 * Shared pieces of the outbox-mode tests: a database with a captured table,
 * a config that points the real CLI at it, the tally printed by each test.
 * The webhook far end is test/support/webhook-server.ts.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import type { TestContext } from 'node:test';
import pg from 'pg';
import { cli, RunningBridge, waitFor, writeConfig } from '../support/bridge.js';
import { createTestDatabase, type TestDatabase } from '../support/pg.js';
import { Tally } from '../support/event-tally.js';

export { Tally } from '../support/event-tally.js';
export { startedWebhook } from '../support/webhook-server.js';

export const RETRY = { initial_ms: 50, max_ms: 500 };

/** A fresh database with public.items (id, v, note), which the configs below capture. */
export async function itemsDatabase(): Promise<TestDatabase> {
  const db = await createTestDatabase('pgbridge_outbox');
  await db.query('CREATE TABLE public.items (id bigint PRIMARY KEY, v int NOT NULL DEFAULT 0, note text)');
  return db;
}

export interface SinkSpec {
  readonly name: string;
  readonly type: 'webhook' | 'stdout' | 'amqp' | 'kafka';
  readonly url?: string;
  readonly [key: string]: unknown;
}

export function webhookSink(name: string, url: string, extra: Record<string, unknown> = {}): SinkSpec {
  return { name, type: 'webhook', url, timeout_ms: 2000, max_in_flight: 4, retry: RETRY, ...extra };
}

/** Writes a config for `db` and runs `pgbridge install` with it; returns the file. */
export async function installedConfig(db: TestDatabase, sinks: readonly SinkSpec[], extra: Record<string, unknown> = {}): Promise<string> {
  const file = writeConfig({
    postgres: { url: db.url },
    capture: [{ table: 'public.items', ops: ['insert', 'update', 'delete'] }],
    sinks,
    outbox: { poll_interval_ms: 200 },
    http: { port: 0 },
    log: { level: 'info' },
    ...extra,
  });
  const install = await cli(['install', '-c', file]);
  assert.equal(install.code, 0, `install failed: ${install.stderr}`);
  return file;
}

/** A port nothing listens on (taken from the OS, then released). */
export async function closedPort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/** The stdout sink's lines of one or more bridge processes, tallied. */
export function stdoutTally(...bridges: RunningBridge[]): Tally {
  const tally = new Tally();
  for (const b of bridges) tally.add(b.stdoutEvents<unknown>());
  return tally;
}

/** Inserts rows [from, from+count) with v = 0, in statements of `perStatement` rows. */
export async function insertItems(db: TestDatabase, from: number, count: number, perStatement = 1000): Promise<void> {
  for (let start = from; start < from + count; start += perStatement) {
    const end = Math.min(from + count, start + perStatement) - 1;
    await db.query('INSERT INTO public.items (id) SELECT g FROM generate_series($1::bigint, $2::bigint) g', [start, end]);
  }
}

export function keys(fromRow: number, count: number, v = 0): Set<string> {
  return new Set(Array.from({ length: count }, (_, i) => `${fromRow + i}:${v}`));
}

/** Rows waiting in the outbox (0 before install). */
export async function outboxCount(db: TestDatabase, table = 'pgbridge.outbox'): Promise<number> {
  const { rows: exists } = await db.query<{ t: string | null }>('SELECT to_regclass($1)::text AS t', [table]);
  if (exists[0].t === null) return 0;
  const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`);
  return rows[0].n;
}

export async function deliveriesCount(db: TestDatabase): Promise<number> {
  const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM pgbridge.deliveries');
  return rows[0].n;
}

/** Prints the tally in the test output (a diagnostic line under the test). */
export function report(t: TestContext, what: string, counts: Record<string, number | string>): void {
  const line = `${what}: ${Object.entries(counts)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ')}`;
  t.diagnostic(line);
}

/** Resident set size of a process in kB (Linux). */
export function rssKb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /VmRSS:\s+(\d+)\s+kB/.exec(status);
  assert.ok(match, 'no VmRSS in /proc status');
  return Number(match[1]);
}

/** A bridge that is killed (SIGKILL) after the test unless it exited already. */
export function startBridge(t: TestContext, configFile: string): RunningBridge {
  const bridge = new RunningBridge(configFile);
  t.after(async () => {
    await bridge.kill('SIGKILL');
  });
  return bridge;
}

export async function untilDelivered(tally: Tally, count: number, timeoutMs: number, what: string): Promise<void> {
  await waitFor(() => tally.unique >= count, timeoutMs, `${what} (${count} unique events; have ${tally.unique})`);
}

/** A plain client for a test that needs its own transaction. */
export async function client(db: TestDatabase): Promise<pg.Client> {
  const c = new pg.Client(db.url);
  await c.connect();
  return c;
}

/** The bridge's log entries with this message (substring). */
export function logsWith(bridge: RunningBridge, text: string): Array<Record<string, unknown>> {
  return bridge.logs().filter((e) => typeof e.msg === 'string' && e.msg.includes(text));
}
