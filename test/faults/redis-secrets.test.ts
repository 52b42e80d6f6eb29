/**
 * Redis credentials (the password in the sink's URL, here an ACL user's made
 * for the test) while Redis sinks fail (wrong password until retries run out;
 * a key the user may not write: dead-lettered) and succeed. Neither the
 * password nor its URL-encoded or base64 form may appear in a log line,
 * `pgbridge check`, `dead-letters list`, the dead-letter table, /metrics or /readyz.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { RedisClientType } from '@redis/client';
import { cli, installAndRun, type RunningBridge, waitFor, writeConfig } from '../support/bridge.js';
import { createTestDatabase, type TestDatabase } from '../support/pg.js';
import { readStream, REDIS_URL, redisAdmin } from '../support/redis.js';
import { closedPort } from '../integration/outbox-harness.js';

const tag = randomBytes(4).toString('hex');
const USER = `pgbridge_secret_${tag}`;
const PASSWORD = `r3dis-p@ss:w0rd/${tag}`;
const WRONG_PASSWORD = `wr0ng-p@ss/${tag}`;

function urlWith(password: string): string {
  const url = new URL(REDIS_URL);
  url.username = USER;
  url.password = encodeURIComponent(password);
  return url.toString();
}

function assertNoSecret(where: string, text: string): void {
  assert.ok(text.length > 0, `${where}: nothing to look at`);
  const forms = [PASSWORD, WRONG_PASSWORD].flatMap((s) => [s, encodeURIComponent(s), Buffer.from(s).toString('base64')]);
  for (const secret of forms) assert.ok(!text.includes(secret), `${where} holds ${secret}:\n${text.slice(0, 2000)}`);
}

describe('redis: the URL password stays secret while sinks fail and succeed', () => {
  let db: TestDatabase;
  let admin: RedisClientType;
  let bridge: RunningBridge;
  let config: string;
  let httpPort: number;

  before(async () => {
    admin = await redisAdmin();
    await admin.sendCommand(['ACL', 'SETUSER', USER, 'on', `>${PASSWORD}`, `~allowed:${tag}*`, '+@all']);
    db = await createTestDatabase('pgbridge_redis_secrets');
    await db.query('CREATE TABLE items (id int PRIMARY KEY)');
    httpPort = await closedPort();
    const retry = { initial_ms: 50, max_ms: 200, max_attempts: 2 };
    config = writeConfig({
      postgres: { url: db.url },
      capture: [{ table: 'items' }],
      sinks: [
        { name: 'ok', type: 'redis', url: urlWith(PASSWORD), stream: `allowed:${tag}`, retry },
        { name: 'denied', type: 'redis', url: urlWith(PASSWORD), stream: `denied:${tag}`, retry },
        { name: 'wrongpass', type: 'redis', url: urlWith(WRONG_PASSWORD), stream: `allowed:${tag}:2`, retry, connect_timeout_ms: 2000 },
      ],
      http: { port: httpPort, host: '127.0.0.1' },
    });
    bridge = await installAndRun(config);
  });

  after(async () => {
    await bridge?.kill('SIGTERM');
    await db?.drop();
    await admin.sendCommand(['ACL', 'DELUSER', USER]);
    await admin.del([`allowed:${tag}`, `allowed:${tag}:2`, `denied:${tag}`]);
    await admin.close();
  });

  test('logs, check, dead letters, /metrics and /readyz hold none of it', async (t) => {
    await db.query('INSERT INTO items VALUES (1)');
    await waitFor(
      async () => (await db.query('SELECT DISTINCT sink FROM pgbridge.dead_letters')).rowCount === 2,
      60_000,
      'a dead letter from the denied and the wrong-password sink',
    );
    await waitFor(async () => (await readStream(admin, `allowed:${tag}`)).length === 1, 15_000, 'the event at the allowed stream');

    const metrics = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
    const readyz = await (await fetch(`http://127.0.0.1:${httpPort}/readyz`)).text();
    const check = await cli(['check', '-c', config]);
    const list = await cli(['dead-letters', 'list', '-c', config]);
    const { rows } = await db.query<{ sink: string; error: string }>('SELECT sink, error FROM pgbridge.dead_letters ORDER BY sink');
    assert.equal(await bridge.kill('SIGTERM'), 0);
    t.diagnostic(`dead letter errors: ${JSON.stringify(rows)}`);

    assert.match(rows.find((r) => r.sink === 'denied')!.error, /NOPERM/);
    assert.match(rows.find((r) => r.sink === 'wrongpass')!.error, /WRONGPASS/);
    assert.equal(check.code, 1);
    assert.match(check.stdout, /^sink ok: ok/m);
    assert.match(check.stdout, /^sink wrongpass: FAIL.*WRONGPASS/m);

    assertNoSecret('the log', bridge.logLines.join('\n'));
    assertNoSecret('pgbridge check', check.stdout + check.stderr);
    assertNoSecret('pgbridge dead-letters list', list.stdout + list.stderr);
    assertNoSecret('the dead letters error column', rows.map((r) => r.error).join('\n'));
    assertNoSecret('/metrics', metrics);
    assertNoSecret('/readyz', readyz);
  });
});
