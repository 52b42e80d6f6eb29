/**
 * Two instances in one database, each with its own bridge process and stdout
 * sink, everything counted at the sinks: a backfill (and, in notify mode, a
 * live change) reaches the bridge of the instance it belongs to and no other.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { cli, installAndRun, writeConfig, type RunningBridge } from '../support/bridge.js';
import { createTestDatabase, type TestDatabase } from '../support/pg.js';

interface Event {
  table: string;
  op: string;
  data: { id: number };
}

const eventsAt = (bridge: RunningBridge | undefined, table: string, op?: string): Event[] =>
  (bridge?.stdoutLines ?? [])
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Event)
    .filter((e) => e.table === table && (op === undefined || e.op === op));

/** Time for an event on its way to arrive where it should not. */
const settle = () => new Promise((r) => setTimeout(r, 1000));

describe('notify mode, two instances on one notify_channel: a captures bn and shared, b captures bnc and shared', () => {
  let db: TestDatabase;
  let a: RunningBridge | undefined;
  let b: RunningBridge | undefined;
  let fileA: string;
  let fileB: string;

  before(async () => {
    db = await createTestDatabase();
    for (const table of ['bn', 'bnc', 'shared']) {
      await db.query(`CREATE TABLE ${table} (id int PRIMARY KEY, v int NOT NULL)`);
      await db.query(`INSERT INTO ${table} SELECT i, 0 FROM generate_series(1, 10) i`);
    }
    const config = (instance: string, capture: string[]) =>
      writeConfig({ postgres: { url: db.url }, delivery: 'notify', instance, capture, sinks: [{ name: 'out', type: 'stdout' }], http: { port: 0 } });
    fileA = config('a', ['bn', 'shared']);
    fileB = config('b', ['bnc', 'shared']);
    assert.equal((await cli(['install', '-c', fileB])).code, 0);
    a = await installAndRun(fileA);
  });

  after(async () => {
    await a?.stop();
    await b?.stop();
    await db?.drop();
  });

  test("a backfill of b is refused while only a's bridge listens (its READs would be lost), and nothing reaches a", async () => {
    const run = await cli(['backfill', '-c', fileB, 'bnc']);
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr, /no `pgbridge run` is listening on this database for instance "b": the READ events would be lost/);
    await settle();
    assert.equal(eventsAt(a, 'bnc').length, 0);
  });
});
