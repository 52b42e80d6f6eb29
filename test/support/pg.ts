import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const PG_ADMIN_URL = process.env.PGBRIDGE_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestDatabase {
  readonly name: string;
  readonly url: string;
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params?: unknown[]): Promise<pg.QueryResult<R>>;
  /** A pool on this database for the test's own use, ended by drop() if the test has not ended it. */
  pool(config?: Omit<pg.PoolConfig, 'connectionString'>): pg.Pool;
  drop(): Promise<void>;
}

/**
 * A fresh database per test file, dropped afterwards (with whatever connections remain).
 *
 * pg's Pool.end() resolves once it has asked its idle clients to end, not once they have:
 * a DROP … WITH (FORCE) right after it can terminate a backend that has not read the
 * client's Terminate yet, and the client then emits that FATAL as an 'error' event. Pools
 * made here listen for it, and drop() waits for their backends to exit first.
 */
export async function createTestDatabase(prefix = 'pgbridge_test', options: { encoding?: 'LATIN1' } = {}): Promise<TestDatabase> {
  const name = `${prefix}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client(PG_ADMIN_URL);
  await admin.connect();
  const encoding = options.encoding ? ` ENCODING '${options.encoding}' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0` : '';
  await admin.query(`CREATE DATABASE ${name}${encoding}`);
  await admin.end();
  const url = PG_ADMIN_URL.replace(/\/[^/?]*(\?|$)/, `/${name}$1`);
  const pools: pg.Pool[] = [];
  const backends = new Set<number>();
  const newPool = (config: Omit<pg.PoolConfig, 'connectionString'> = {}): pg.Pool => {
    const created = new pg.Pool({ ...config, connectionString: url });
    created.on('error', () => {});
    created.on('connect', (client) => {
      const pid = (client as pg.Client & { processID?: number }).processID;
      if (pid) backends.add(pid);
    });
    pools.push(created);
    return created;
  };
  const own = newPool({ max: 4 });
  return {
    name,
    url,
    query: (sql, params) => own.query(sql, params),
    pool: newPool,
    async drop() {
      // A pool's end() waits for clients still checked out (a test that failed holding one): not past the limit.
      const ended = Promise.all(pools.filter((p) => !p.ended && !p.ending).map((p) => p.end()));
      await Promise.race([ended, new Promise((resolve) => setTimeout(resolve, 5_000).unref())]);
      const c = new pg.Client(PG_ADMIN_URL);
      await c.connect();
      await waitForBackendsToExit(c, [...backends], 5_000);
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

/** Waits (at most `limitMs`) until the backends of the ended pools are gone; other connections (a bridge's) are forced off by the DROP. */
async function waitForBackendsToExit(admin: pg.Client, pids: number[], limitMs: number): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (pids.length > 0 && Date.now() < deadline) {
    const { rows } = await admin.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = ANY($1::int[])`, [pids]);
    if (rows[0].n === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Terminates every backend of `database` whose application_name starts with `prefix` (e.g. "pgbridge listener"). */
export async function terminateBackends(database: string, prefix: string): Promise<number> {
  const c = new pg.Client(PG_ADMIN_URL);
  await c.connect();
  const { rows } = await c.query<{ n: number }>(
    `SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE datname = $1 AND application_name LIKE $2`,
    [database, `${prefix}%`],
  );
  await c.end();
  return rows[0].n;
}
