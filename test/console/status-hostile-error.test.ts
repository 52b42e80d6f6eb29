/**
 * A far end's error body is the far end's to write: shown by `pgbridge status`
 * in the operator's terminal, its control characters (escape sequences that
 * retitle, clear or rewrite the screen) and line breaks (a made-up table row)
 * are printed as visible escapes, never as what they do.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { cli, RunningBridge, waitFor, writeConfig } from '../support/bridge.js';
import { createTestDatabase, type TestDatabase } from '../support/pg.js';
import { freePort } from '../support/tcp.js';
import { WebhookServer } from '../support/webhook-server.js';

const TOKEN = 'hostile-error-token-61aa';
const BODY = '\x1b]0;owned\x07\x1b[2J\x1b[1A\r\nhook      webhook   delivering  0\x9b31m';
let db: TestDatabase;
let hook: WebhookServer;
let bridge: RunningBridge;
let config: string;

before(async () => {
  db = await createTestDatabase('aud_console');
  await db.query('CREATE TABLE items (id bigint PRIMARY KEY)');
  hook = new WebhookServer();
  hook.reply = () => ({ status: 503, body: BODY });
  const port = await freePort();
  config = writeConfig({
    postgres: { url: db.url },
    capture: [{ table: 'items' }],
    sinks: [{ name: 'hook', type: 'webhook', url: await hook.start(), retry: { initial_ms: 100, max_ms: 500 } }],
    http: { port, host: '127.0.0.1', token: TOKEN },
  });
  assert.equal((await cli(['install', '-c', config])).code, 0);
  bridge = new RunningBridge(config);
  await bridge.ready();
});

after(async () => {
  await bridge?.kill('SIGTERM');
  await hook?.stop();
  await db?.drop();
});

test("pgbridge status prints a far end's control characters and line breaks as visible escapes", async () => {
  await db.query('INSERT INTO items VALUES (1)');
  let stdout = '';
  await waitFor(
    async () => {
      const result = await cli(['status', '-c', config]);
      stdout = result.stdout;
      return result.code === 1 && /^ {2}hook: /m.test(stdout);
    },
    20_000,
    'status showing the last error',
  );
  assert.doesNotMatch(stdout, /[\x00-\x09\x0b-\x1f\x7f-\x9f]/, JSON.stringify(stdout));
  const errorLine = stdout.split('\n').find((line) => line.startsWith('  hook: ')) ?? '';
  assert.match(errorLine, /HTTP 503: \\u001b\]0;owned\\u0007\\u001b\[2J\\u001b\[1A\\u000d\\u000ahook +webhook +delivering +0\\u009b31m/);
  assert.doesNotMatch(stdout, /^hook +webhook +delivering/m, 'a made-up table row');
});
