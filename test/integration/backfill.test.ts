/**
 * `pgbridge backfill` end to end in both trigger modes, against a running
 * bridge with two sinks (stdout and a webhook), everything counted at the far
 * ends: every row once as READ in key order, routes and --sink, bad input
 * refused with nothing emitted, SIGKILL at half way then resume (no row lost
 * or repeated), and writers changing the table meanwhile: each sink's final
 * view per key equals the table.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { BIN, cli, installAndRun, ROOT, waitFor, writeConfig, type RunningBridge } from '../support/bridge.js';
import { createTestDatabase, type TestDatabase } from '../support/pg.js';
import { backfillRowsDone, killBackfill } from '../support/backfill-progress.js';
import { WebhookServer } from '../support/webhook-server.js';

interface Event {
  id: string;
  table: string;
  op: string;
  data: Record<string, unknown> | null;
  old: Record<string, unknown> | null;
}

for (const delivery of ['outbox', 'notify'] as const) {
  describe(`backfill (delivery: ${delivery})`, () => {
    let db: TestDatabase;
    let server: WebhookServer;
    let bridge: RunningBridge;
    let file: string;

    const atStdout = (table: string): Event[] => bridge.stdoutEvents<Event>().filter((e) => e.table === table);
    const atHook = (table: string): Event[] => (server.delivered() as Event[]).filter((e) => e.table === table);
    const backfill = (...args: string[]) => cli(['backfill', '-c', file, ...args]);
    const outboxRows = async () => Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM pgbridge.outbox')).rows[0].n);

    before(async () => {
      db = await createTestDatabase();
      server = new WebhookServer();
      const url = await server.start();
      await db.query(`CREATE TABLE items (id int PRIMARY KEY, name text, n bigint)`);
      await db.query(`INSERT INTO items SELECT i, 'item ' || i, 9007199254740993 FROM generate_series(1, 2500) i`);
      await db.query(`CREATE TABLE pairs (a int, b text, hidden boolean, PRIMARY KEY (b, a))`);
      await db.query(`INSERT INTO pairs SELECT i % 7, 'k' || i, i % 3 = 0 FROM generate_series(1, 900) i`);
      await db.query(`CREATE TABLE routed (id int PRIMARY KEY)`);
      await db.query(`INSERT INTO routed SELECT generate_series(1, 300)`);
      await db.query(`CREATE TABLE nopk (x int)`);
      await db.query(`CREATE TABLE big (id int PRIMARY KEY, pad text)`);
      await db.query(`INSERT INTO big SELECT i, repeat('x', 50) FROM generate_series(1, 40000) i`);
      await db.query(`CREATE TABLE live (id int PRIMARY KEY, v int NOT NULL)`);
      await db.query(`INSERT INTO live SELECT i, 0 FROM generate_series(1, 20000) i`);
      await db.query(`CREATE TABLE uncaptured (id int PRIMARY KEY)`);
      await db.query(`CREATE TABLE unread (id int PRIMARY KEY)`);
      await db.query(`INSERT INTO unread SELECT generate_series(1, 10)`);
      file = writeConfig({
        postgres: { url: db.url },
        delivery,
        capture: ['items', { table: 'pairs', where: 'NOT hidden' }, 'routed', 'nopk', 'big', 'live', 'unread'],
        sinks: [
          { name: 'out', type: 'stdout' },
          { name: 'hook', type: 'webhook', url, batch: { max_events: 50 }, retry: { initial_ms: 50, max_ms: 500 } },
        ],
        routes: [
          { from: { table: 'items' }, to: ['out', 'hook'] },
          { from: { table: 'pairs' }, to: ['out'] },
          { from: { table: 'routed', ops: ['insert'] }, to: ['out'] },
          { from: { table: 'routed', ops: ['read'] }, to: ['hook'] },
          { from: { table: 'nopk' }, to: ['out'] },
          { from: { table: 'big' }, to: ['out'] },
          { from: { table: 'live' }, to: ['out', 'hook'] },
          { from: { table: 'unread', ops: ['insert', 'update'] }, to: ['out', 'hook'] },
        ],
        http: { port: 0 },
      });
      bridge = await installAndRun(file);
    });

    after(async () => {
      await bridge?.kill('SIGTERM');
      await server?.stop();
      await db?.drop();
    });

    test('every row once as READ, in primary-key order, data as to_json renders it, to every routed sink', async () => {
      const run = await backfill('items', '--chunk', '400');
      assert.equal(run.code, 0, run.stderr);
      for (const got of [() => atStdout('items'), () => atHook('items')]) {
        await waitFor(() => got().length >= 2500, 30_000, 'items READs');
        const events = got();
        assert.equal(events.length, 2500);
        assert.ok(events.every((e) => e.op === 'READ' && e.old === null));
        assert.deepEqual(
          events.map((e) => e.data!.id).sort((a, b) => Number(a) - Number(b)),
          Array.from({ length: 2500 }, (_, i) => i + 1),
        );
      }
      // Ids follow the key order (one sequence, taken row by row in key order).
      const ids = atStdout('items')
        .sort((a, b) => Number(a.data!.id) - Number(b.data!.id))
        .map((e) => BigInt(e.id));
      assert.ok(ids.every((id, i) => i === 0 || id > ids[i - 1]));
      const line = bridge.stdoutLines.find((l) => l.includes('"table":"items"') && l.includes('"id":7,'))!;
      assert.match(line, /"data":\{"id":7,"name":"item 7","n":9007199254740993\}/);
      // The JSON progress lines (stderr is not a terminal here).
      const progress = run.stderr.split('\n').filter((l) => l.includes('"backfill progress"') || l.includes('"backfill finished"'));
      assert.ok(progress.length >= 1, run.stderr);
      assert.match(progress.at(-1)!, /"rows":2500/);
    });

    test("a composite key and the table's where filter: only matching rows, each once", async () => {
      const run = await backfill('pairs', '--chunk', '100');
      assert.equal(run.code, 0, run.stderr);
      await waitFor(() => atStdout('pairs').length >= 600, 30_000, 'pairs READs');
      await new Promise((r) => setTimeout(r, 300));
      const keys = atStdout('pairs').map((e) => `${e.data!.b}/${e.data!.a}`);
      assert.equal(keys.length, 600);
      assert.equal(new Set(keys).size, 600);
      assert.ok(atStdout('pairs').every((e) => e.data!.hidden === false));
    });

    test('routes with ops [read] get the READs; --sink sends to that sink only; --where narrows', async () => {
      assert.equal((await backfill('routed')).code, 0);
      await waitFor(() => atHook('routed').length >= 300, 30_000, 'routed READs at hook');
      assert.equal(atStdout('routed').length, 0, 'the insert-only route gets no READ');

      const before = atHook('items').length;
      const run = await backfill('items', '--sink', 'out', '--where', 'id <= 100', '--restart');
      assert.equal(run.code, 0, run.stderr);
      await waitFor(() => atStdout('items').length >= 2600, 30_000, '100 more items READs at stdout');
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(atStdout('items').length, 2600);
      assert.equal(atHook('items').length, before, '--sink out: nothing for hook');
    });

    test('refused with a clear message, nothing emitted: no primary key, bad --where, unknown sink, table not captured, no route for READs', async () => {
      const stdoutBefore = bridge.stdoutLines.length;
      const outboxBefore = await outboxRows();
      const cases: Array<[string[], RegExp]> = [
        [['nopk'], /public\.nopk has no primary key/],
        [['items', '--where', 'nope = 1'], /--where "nope = 1" is not a valid condition on public\.items: column "nope" does not exist/],
        [['items', '--where', 'id <'], /--where "id <" is not a valid condition on public\.items: syntax error/],
        [['items', '--where', 'id = 1; DELETE FROM items'], /not a valid condition on public\.items/],
        [['items', '--sink', 'nowhere'], /--sink "nowhere": no sink of that name/],
        [['uncaptured'], /public\.uncaptured is not in capture/],
        [['unread'], /no route sends READ events of public\.unread to a sink: add read to a route's ops/],
      ];
      for (const [args, message] of cases) {
        const run = await backfill(...args);
        assert.equal(run.code, 1, `${args.join(' ')}: ${run.stderr}`);
        assert.match(run.stderr, message);
        assert.doesNotMatch(run.stderr, /\n\s+at /, 'no stack trace');
      }
      await new Promise((r) => setTimeout(r, 500));
      assert.equal((await db.query('SELECT count(*)::int AS n FROM items')).rows[0].n, 2500);
      assert.equal(bridge.stdoutLines.length, stdoutBefore);
      assert.equal(await outboxRows(), outboxBefore);
    });

    test('SIGKILL at half way, then the same command continues: every row exactly once; a second backfill at once is refused', async () => {
      // --rate: about 13 s in all, so it is surely still running for the checks on the way.
      const child = spawn(process.execPath, [BIN, 'backfill', '-c', file, 'big', '--chunk', '200', '--rate', '3000'], { cwd: ROOT, stdio: 'ignore' });
      const progress = async () => backfillRowsDone(db, 'big');
      await waitFor(async () => (await progress()) >= 2000, 60_000, 'the backfill under way');
      const second = await backfill('big');
      assert.equal(second.code, 1);
      assert.match(second.stderr, /a backfill of public\.big is already running/);
      const listed = await backfill('--status', '--json');
      assert.equal((JSON.parse(listed.stdout) as Array<{ table: string; state: string }>).find((b) => b.table === 'public.big')?.state, 'running');

      await waitFor(async () => (await progress()) >= 20000, 120_000, 'half way');
      await killBackfill(db, child);
      const interrupted = JSON.parse((await backfill('--status', '--json')).stdout) as Array<{ table: string; state: string; rowsDone: number }>;
      const big = interrupted.find((b) => b.table === 'public.big')!;
      assert.equal(big.state, 'interrupted');
      assert.ok(big.rowsDone >= 20000 && big.rowsDone < 40000, String(big.rowsDone));
      const status = JSON.parse((await cli(['status', '-c', file, '--json'])).stdout) as { backfills: Array<{ table: string; state: string }> };
      assert.deepEqual(
        status.backfills.map((b) => [b.table, b.state]),
        [['public.big', 'interrupted']],
        '`pgbridge status` lists it',
      );

      const resumed = await backfill('big', '--chunk', '2000');
      assert.equal(resumed.code, 0, resumed.stderr);
      assert.match(resumed.stderr, /continuing an interrupted backfill/);
      await waitFor(() => atStdout('big').length >= 40000, 120_000, '40000 READs');
      await new Promise((r) => setTimeout(r, 500));
      const ids = atStdout('big').map((e) => Number(e.data!.id));
      assert.equal(ids.length, 40000, 'no READ repeated');
      assert.equal(new Set(ids).size, 40000, 'none lost');
      const done = JSON.parse((await backfill('--status', '--json')).stdout) as Array<{ table: string; state: string; rowsDone: number }>;
      assert.deepEqual(
        done.filter((b) => b.table === 'public.big').map((b) => [b.state, b.rowsDone]),
        [['finished', 40000]],
      );
    });

    test('writers update, delete and insert rows while it runs: each sink ends with exactly the table', async () => {
      const writers = db.pool({ max: 3 });
      let writing = true;
      let writes = 0;
      const writer = async () => {
        while (writing) {
          const id = 1 + Math.floor(Math.random() * 21000);
          const pick = Math.random();
          if (pick < 0.6) await writers.query('UPDATE live SET v = v + 1 WHERE id = $1', [id]);
          else if (pick < 0.8) await writers.query('DELETE FROM live WHERE id = $1', [id]);
          else await writers.query('INSERT INTO live VALUES ($1, 1000) ON CONFLICT (id) DO UPDATE SET v = live.v + 1', [id]);
          writes++;
        }
      };
      const running = [writer(), writer(), writer()];
      const run = await backfill('live', '--chunk', '250');
      writing = false;
      await Promise.all(running);
      await writers.end();
      assert.equal(run.code, 0, run.stderr);
      assert.ok(writes > 100, `only ${writes} writes during the backfill`);

      const table = new Map((await db.query<{ id: number; v: number }>('SELECT id, v FROM live')).rows.map((r) => [r.id, r.v]));
      const view = (events: Event[]) => {
        const rows = new Map<number, number>();
        for (const e of events) {
          if (e.op === 'DELETE') rows.delete(Number(e.data!.id));
          else rows.set(Number(e.data!.id), Number(e.data!.v));
        }
        return rows;
      };
      const differences = (rows: Map<number, number>) => {
        let n = 0;
        for (const [id, v] of table) if (rows.get(id) !== v) n++;
        for (const id of rows.keys()) if (!table.has(id)) n++;
        return n;
      };
      for (const [name, events] of [
        ['stdout', () => atStdout('live')],
        ['webhook', () => atHook('live')],
      ] as const) {
        await waitFor(() => differences(view(events())) === 0, 60_000, `${name}'s view to equal the table`).catch(() => {});
        assert.equal(differences(view(events())), 0, `${name}: keys whose last event differs from the table (${writes} writes)`);
        assert.ok(events().some((e) => e.op === 'READ') && events().some((e) => e.op === 'UPDATE'));
      }
    });

    test('on a terminal: a progress bar with rows, rows/s and ETA', async () => {
      // script(1) gives the command a pseudo-terminal as stderr.
      const command = `${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} backfill -c ${JSON.stringify(file)} routed --restart --chunk 100`;
      const run = await new Promise<{ code: number | null; out: string }>((resolve) => {
        const child = spawn('script', ['-qec', command, '/dev/null'], { cwd: ROOT });
        let out = '';
        child.stdout.on('data', (d) => (out += d));
        child.on('close', (code) => resolve({ code, out }));
      });
      assert.equal(run.code, 0, run.out);
      assert.match(run.out, /\rpublic\.routed [█░]{30} \d+% [\d,]+ \/ 300 rows, [\d,]+ rows\/s, ETA (\d+ s|\?)/);
      assert.match(run.out, /public\.routed: 300 rows, [\d,]+ rows\/s, done/);
    });
  });
}

describe('backfill in notify mode without a listening bridge', () => {
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase();
  });
  after(async () => {
    await db?.drop();
  });

  test('is refused: the READs would be lost', async () => {
    await db.query('CREATE TABLE t (id int PRIMARY KEY)');
    await db.query('INSERT INTO t VALUES (1)');
    const file = writeConfig({ postgres: { url: db.url }, delivery: 'notify', capture: ['t'], sinks: [{ name: 'out', type: 'stdout' }] });
    assert.equal((await cli(['install', '-c', file])).code, 0);
    const run = await cli(['backfill', '-c', file, 't']);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /no `pgbridge run` is listening/);
  });
});
