import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type pg from 'pg';
import { SettledWater } from '../../src/source/settled-water.js';

interface Moment {
  /** The last id the sequence handed out. */
  readonly lastId: bigint;
  /** Oldest running transaction, and the next xid to be handed out. */
  readonly xmin: number;
  readonly nextXid: number;
  readonly unknown?: boolean;
}

/** A SettledWater that sees `moments` in turn: the sequence read, then the snapshot. */
function scripted(): { water: SettledWater; at: (m: Moment) => Promise<bigint> } {
  let now: Moment | undefined;
  const db = {
    query: async () => ({ rows: [{ xmin: String(now!.xmin), next_xid: String(now!.nextXid), unknown: now!.unknown ?? false }] }),
  } as unknown as pg.Pool;
  const water = new SettledWater(async () => now!.lastId);
  return {
    water,
    at: (m) => {
      now = m;
      return water.advance(db);
    },
  };
}

describe('SettledWater (scripted sequence and snapshots)', () => {
  test('an id counts as settled only once every transaction running when it was read has ended', async () => {
    const { at } = scripted();
    // Ids up to 10 handed out; xids 100..104 may still hold some of them.
    assert.equal(await at({ lastId: 10n, xmin: 100, nextXid: 105 }), 0n);
    assert.equal(await at({ lastId: 12n, xmin: 104, nextXid: 107 }), 0n, 'xid 104 still runs');
    assert.equal(await at({ lastId: 20n, xmin: 105, nextXid: 110 }), 10n, 'everything before xid 105 ended: ids up to 10 settled');
    assert.equal(await at({ lastId: 20n, xmin: 110, nextXid: 110 }), 20n, 'no transaction runs: everything read so far is settled');
  });

  test('the water never goes down', async () => {
    const { at } = scripted();
    assert.equal(await at({ lastId: 30n, xmin: 50, nextXid: 50 }), 30n);
    assert.equal(await at({ lastId: 30n, xmin: 50, nextXid: 51 }), 30n);
    assert.equal(await at({ lastId: 31n, xmin: 51, nextXid: 52 }), 30n);
  });

  test('a snapshot whose next xid is not a normal one adds no checkpoint, and older ones still settle', async () => {
    const { at } = scripted();
    assert.equal(await at({ lastId: 5n, xmin: 10, nextXid: 12 }), 0n);
    assert.equal(await at({ lastId: 9n, xmin: 12, nextXid: 0, unknown: true }), 5n);
    assert.equal(await at({ lastId: 9n, xmin: 13, nextXid: 13 }), 9n);
  });

  test('under a long-running writer the checkpoints stay bounded, keeping the oldest', async () => {
    const { at } = scripted();
    // xid 1 never ends while 2,000 checks go by.
    for (let i = 1; i <= 2000; i++) assert.equal(await at({ lastId: BigInt(i), xmin: 1, nextXid: 1 + i }), 0n);
    // It ends; the oldest checkpoint (id 1 at xid 2) is there, so the water moves by it, not past it.
    assert.equal(await at({ lastId: 2000n, xmin: 2, nextXid: 2002 }), 1n);
    assert.equal(await at({ lastId: 2000n, xmin: 2002, nextXid: 2002 }), 2000n);
  });
});
