/**
 * NATS credentials of every kind — a password (key and in the URL), a token
 * (key and in the URL), a .creds file's JWT and seed — while nats sinks fail
 * (wrong password, wrong token, a creds file of an unknown account) and one
 * succeeds but dead-letters an event over max_payload. None of them, nor its
 * URL-encoded or base64 form, may appear in a log line, `pgbridge check`,
 * `dead-letters list`, the dead-letter table's error text, /metrics or /readyz.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { cli, installAndRun, type RunningBridge, waitFor, writeConfig } from '../support/bridge.js';
import { NatsAdmin, PrivateNatsServer } from '../support/nats.js';
import { operatorSetup } from '../support/nats-auth.js';
import { createTestDatabase, type TestDatabase } from '../support/pg.js';
import { closedPort } from '../integration/outbox-harness.js';

const PASSWORD = 'n4ts-p@ss/w0rd-secret';
const WRONG_PASSWORD = 'n4ts-wr0ng-pw-secret';
const TOKEN = 'n4ts-t0ken-secret-77';
const WRONG_TOKEN = 'n4ts-wr0ng-token-secret';

describe('nats credentials stay secret while nats sinks fail and succeed', () => {
  let db: TestDatabase;
  let passwordServer: PrivateNatsServer;
  let tokenServer: PrivateNatsServer;
  let operatorServer: PrivateNatsServer;
  let secrets: string[];
  let bridge: RunningBridge;
  let config: string;
  let httpPort: number;

  before(async () => {
    db = await createTestDatabase('pgbridge_nats_secrets');
    await db.query('CREATE TABLE items (id int PRIMARY KEY, note text)');
    passwordServer = await PrivateNatsServer.start(`authorization { users = [ { user: bridge, password: "${PASSWORD}" } ] }`);
    tokenServer = await PrivateNatsServer.start(`authorization { token: "${TOKEN}" }`);
    const setup = await operatorSetup();
    operatorServer = await PrivateNatsServer.start(setup.serverConfig);
    const creds = operatorServer.file('stranger.creds', setup.strangerCreds);
    const strangerLines = setup.strangerCreds.split('\n').filter((l) => l.length > 40 && !l.startsWith('-') && !l.startsWith('*'));
    secrets = [PASSWORD, WRONG_PASSWORD, TOKEN, WRONG_TOKEN, ...strangerLines];

    const admin = await NatsAdmin.connect({ servers: passwordServer.address, user: 'bridge', pass: PASSWORD });
    await admin.createStream('secrets', ['pgbridge.>']);
    await admin.close();

    httpPort = await closedPort();
    const retry = { initial_ms: 50, max_ms: 200, max_attempts: 2 };
    const common = { type: 'nats', retry, connect_timeout_ms: 2000, timeout_ms: 2000 };
    config = writeConfig({
      postgres: { url: db.url },
      capture: [{ table: 'items' }],
      sinks: [
        { name: 'good', ...common, url: `nats://bridge:${encodeURIComponent(PASSWORD)}@${passwordServer.address}`, stream: 'secrets' },
        { name: 'wrong-password', ...common, url: `nats://${passwordServer.address}`, user: 'bridge', password: WRONG_PASSWORD },
        { name: 'wrong-url-token', ...common, url: `nats://${WRONG_TOKEN}@${tokenServer.address}` },
        { name: 'token-key', ...common, url: `nats://${tokenServer.address}`, token: TOKEN, subject: 'nostream.{table}' },
        { name: 'stranger-creds', ...common, url: `nats://${operatorServer.address}`, creds },
      ],
      http: { port: httpPort, host: '127.0.0.1' },
    });
    bridge = await installAndRun(config);
  });

  after(async () => {
    await bridge?.kill('SIGTERM');
    await Promise.all([passwordServer?.stop(), tokenServer?.stop(), operatorServer?.stop()]);
    await db?.drop();
  });

  function forbiddenForms(): string[] {
    return [...new Set(secrets.flatMap((s) => [s, encodeURIComponent(s), Buffer.from(s).toString('base64')]))];
  }

  function assertNoSecret(where: string, text: string): void {
    assert.ok(text.length > 0, `${where}: nothing to look at`);
    for (const secret of forbiddenForms()) assert.ok(!text.includes(secret), `${where} holds ${secret}:\n${text.slice(0, 2000)}`);
  }

  test('logs, check, dead letters, /metrics and /readyz hold none of them', async (t) => {
    await db.query(`INSERT INTO items VALUES (1, 'small'), (2, repeat('x', 1100000))`);
    // Four sinks cannot connect (each event retried, then dead-lettered); "good" refuses row 2 for its size.
    await waitFor(async () => (await db.query('SELECT 1 FROM pgbridge.dead_letters')).rowCount === 9, 60_000, 'nine dead letters');
    const metrics = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
    const readyz = await (await fetch(`http://127.0.0.1:${httpPort}/readyz`)).text();
    const check = await cli(['check', '-c', config]);
    const list = await cli(['dead-letters', 'list', '-c', config]);
    const { rows } = await db.query<{ sink: string; error: string }>('SELECT sink, error FROM pgbridge.dead_letters ORDER BY sink, event_id');
    assert.equal(await bridge.kill('SIGTERM'), 0);
    t.diagnostic(`dead letter errors: ${JSON.stringify(rows.map((r) => `${r.sink}: ${r.error.slice(0, 160)}`))}`);

    assert.equal(check.code, 1);
    assert.match(check.stdout, /^sink good: ok/m);
    assert.match(check.stdout, /^sink token-key: ok/m);
    for (const sink of ['wrong-password', 'wrong-url-token', 'stranger-creds'])
      assert.match(check.stdout, new RegExp(`^sink ${sink}: FAIL: .*Authorization Violation`, 'mi'));
    assert.deepEqual(
      rows.filter((r) => r.sink === 'good').map((r) => r.error.replace(/\d+/g, 'N')),
      [`nats: message of about N bytes (headers included) for subject "pgbridge.public.items.insert" exceeds the server's max_payload of N bytes`],
    );
    assert.ok(
      rows.some((r) => r.sink === 'token-key' && /no JetStream stream took the message/.test(r.error)),
      'the token was accepted',
    );

    assertNoSecret('the log', bridge.logLines.join('\n'));
    assertNoSecret('pgbridge check', check.stdout + check.stderr);
    assertNoSecret('pgbridge dead-letters list', list.stdout + list.stderr);
    assertNoSecret('the dead letters error column', rows.map((r) => r.error).join('\n'));
    assertNoSecret('/metrics', metrics);
    assertNoSecret('/readyz', readyz);
  });
});
