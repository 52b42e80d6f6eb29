/**
 * The wal mode's ceilings: a bare replication consumer (receiver-child.ts,
 * kind `replication`) that only decodes pgoutput, on a slot of its own made
 * afresh for each run, and the insert rate while a walsender streams to it.
 */
import { spawn } from 'node:child_process';
import { procSample } from './bridge.js';
import { timedToReceiver, type CeilingResult } from './ceilings.js';
import type { Receiver } from './receivers.js';
import { waitFor } from '../test/support/bridge.js';
import { monoMs } from './stats.js';
import { dropSlot, freshSlot, insertBurst, rowsPerSecond, steadyLoad, TABLES, WAL_PUBLICATION, walMark, type BenchDatabase } from './workloads.js';

const WAIT_MS = 120_000;

/** The receiver child's CPU seconds: the decoding happens there. */
const childCpuS = (receiver: Receiver): number => procSample(receiver.pid)?.cpuS ?? Number.NaN;

/** `count` rows committed while nobody streams, then the consumer starts: start of streaming → last row decoded. */
export async function bareReplicationDrain(db: BenchDatabase, receiver: Receiver, count: number, txnRows: number): Promise<CeilingResult> {
  await receiver.reset();
  await freshSlot(db, db.slots.bare);
  await insertBurst(db, TABLES.wal, count, txnRows);
  try {
    const cpu0 = childCpuS(receiver);
    const started = monoMs();
    await receiver.up();
    const got = await receiver.wait(count, WAIT_MS);
    const end = got.count >= count ? got.lastAt : monoMs();
    const seconds = (end - started) / 1000;
    return {
      events: count,
      received: got.count,
      seconds,
      rate: got.count / seconds,
      rateAfterFirst: (got.count - 1) / ((got.lastAt - got.firstAt) / 1000),
      cpuS: childCpuS(receiver) - cpu0,
    };
  } finally {
    await receiver.down();
    await dropSlot(db, db.slots.bare);
    await db.clean();
  }
}

/** The same consumer streaming under an open-loop steady rate: the latency floor of logical replication on this machine. */
export async function bareReplicationSteady(
  db: BenchDatabase,
  receiver: Receiver,
  rate: number,
  txnRows: number,
  seconds: number,
): Promise<CeilingResult> {
  await receiver.reset();
  await freshSlot(db, db.slots.bare);
  await receiver.up();
  try {
    const written = await steadyLoad(db, TABLES.wal, rate, txnRows, seconds);
    return { ...(await timedToReceiver(receiver, written.count, written.startedAt)), written };
  } finally {
    await receiver.down();
    await dropSlot(db, db.slots.bare);
    await db.clean();
  }
}

/** An insert rate, and the consumer's CPU seconds from the first insert until it had every row. */
export interface StreamedInsertRate {
  readonly rate: number;
  readonly consumerCpuS: number;
}

/**
 * Insert rate into the published table while its walsender streams to the
 * bare consumer (after a CHECKPOINT, as the other insert rates): what logical
 * decoding itself takes from the writes on this machine, without pgbridge.
 */
export async function insertRateDecoded(db: BenchDatabase, receiver: Receiver, count: number, txnRows: number): Promise<StreamedInsertRate> {
  await receiver.reset();
  await freshSlot(db, db.slots.bare);
  await receiver.up();
  try {
    await db.query('CHECKPOINT');
    const cpu0 = childCpuS(receiver);
    const written = await insertBurst(db, TABLES.wal, count, txnRows);
    await receiver.wait(count, WAIT_MS);
    return { rate: rowsPerSecond(written), consumerCpuS: childCpuS(receiver) - cpu0 };
  } finally {
    await receiver.down();
    await dropSlot(db, db.slots.bare);
    await db.clean();
  }
}

/**
 * The same with PostgreSQL's own pg_recvlogical as the consumer: it writes
 * pgoutput's bytes to /dev/null and decodes nothing, so the writes lose only
 * what the walsender takes. The gap to the bare decoder's rate is what a
 * consumer that decodes takes from them while it shares their cores.
 */
export async function insertRateRecvlogical(db: BenchDatabase, count: number, txnRows: number): Promise<StreamedInsertRate> {
  const slot = db.slots.recvlogical;
  await freshSlot(db, slot);
  const options = ['proto_version=1', `publication_names=${WAL_PUBLICATION}`, 'messages=true'].flatMap((o) => ['-o', o]);
  // --no-loop: a lost connection ends it (and this measurement) instead of a retry every 5 s.
  const child = spawn('pg_recvlogical', ['-d', db.url, '-S', slot, '--start', '--no-loop', '-f', '/dev/null', '-s', '1', ...options], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  const failed = new Promise<never>((_, reject) => {
    child.on('error', reject);
    child.on('exit', (code) => reject(new Error(`pg_recvlogical exited with ${code}: ${stderr.trim()}`)));
  });
  failed.catch(() => undefined);
  const done = new AbortController(); // ends the pollers below when the child failed first
  try {
    const walsender = await Promise.race([activeWalsender(db, slot, done.signal), failed]);
    await db.query('CHECKPOINT');
    const cpu0 = procSample(child.pid!)?.cpuS ?? Number.NaN;
    const written = await insertBurst(db, TABLES.wal, count, txnRows);
    await Promise.race([sentPast(db, walsender, await walMark(db), done.signal), failed]);
    return { rate: rowsPerSecond(written), consumerCpuS: (procSample(child.pid!)?.cpuS ?? Number.NaN) - cpu0 };
  } finally {
    done.abort();
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(killer);
    await dropSlot(db, slot);
    await db.clean();
  }
}

/** The pid of the walsender streaming from `slot`, once its consumer started streaming (or `signal` gave up). */
async function activeWalsender(db: BenchDatabase, slot: string, signal: AbortSignal): Promise<number> {
  let pid: number | undefined;
  const streaming = async (): Promise<boolean> => {
    const { rows } = await db.query<{ pid: number }>(
      `SELECT r.pid FROM pg_replication_slots s JOIN pg_stat_replication r ON r.pid = s.active_pid
        WHERE s.slot_name = $1 AND r.state = 'streaming'`,
      [slot],
    );
    pid = rows[0]?.pid;
    return pid !== undefined;
  };
  await waitFor(streaming, 10_000, `a walsender streaming from slot ${slot}`, { signal });
  return pid!;
}

/** Waits until the walsender `pid` has sent everything up to `lsn` (or `signal` gave up). */
async function sentPast(db: BenchDatabase, pid: number, lsn: string, signal: AbortSignal): Promise<void> {
  const sent = async (): Promise<boolean> => {
    const { rows } = await db.query<{ done: boolean }>(`SELECT sent_lsn >= $1::pg_lsn AS done FROM pg_stat_replication WHERE pid = $2`, [lsn, pid]);
    return rows[0]?.done === true;
  };
  await waitFor(sent, WAIT_MS, `the walsender to send up to ${lsn}`, { intervalMs: 20, signal });
}
