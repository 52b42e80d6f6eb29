/**
 * The wal mode's ceilings: a bare replication consumer (receiver-child.ts,
 * kind `replication`) that only decodes pgoutput, on a slot of its own made
 * afresh for each run, and the insert rate while a walsender streams to it.
 */
import { procSample } from './bridge.js';
import { timedToReceiver, type CeilingResult } from './ceilings.js';
import type { Receiver } from './receivers.js';
import { monoMs } from './stats.js';
import { dropSlot, freshSlot, insertBurst, rowsPerSecond, steadyLoad, TABLES, type BenchDatabase } from './workloads.js';

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

/**
 * Insert rate into the published table while its walsender streams to the
 * bare consumer (after a CHECKPOINT, as the other insert rates): what logical
 * decoding itself takes from the writes on this machine, without pgbridge.
 */
export async function insertRateDecoded(db: BenchDatabase, receiver: Receiver, count: number, txnRows: number): Promise<number> {
  await receiver.reset();
  await freshSlot(db, db.slots.bare);
  await receiver.up();
  try {
    await db.query('CHECKPOINT');
    const written = await insertBurst(db, TABLES.wal, count, txnRows);
    await receiver.wait(count, WAIT_MS);
    return rowsPerSecond(written);
  } finally {
    await receiver.down();
    await dropSlot(db, db.slots.bare);
    await db.clean();
  }
}
