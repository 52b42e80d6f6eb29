/**
 * Dead letters stored with a secret in their error (an older version wrote
 * them before its scrubbing caught that form) are shown masked: by
 * `dead-letters list` and by the console's API. The event itself is printed as
 * stored, its bigint with every digit.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { cli, RunningBridge, writeConfig } from '../support/bridge.js';
import { createTestDatabase, type TestDatabase } from '../support/pg.js';
import { freePort } from '../support/tcp.js';
import { WebhookServer } from '../support/webhook-server.js';

const API_TOKEN = 'far-end-token-5e1d0c4b';
const CONSOLE_TOKEN = 'console-token-2b8e61f0';
const EVENT =
  '{"id":"ev-1","schema":"public","table":"items","op":"INSERT","data":{"id":9007199254740993},"old":null,"txid":"1","ts":"2026-12-07T00:00:00Z"}';

let db: TestDatabase;
let hook: WebhookServer;
let file: string;
let base: string;

before(async () => {
  db = await createTestDatabase();
  await db.query('CREATE TABLE items (id bigint PRIMARY KEY)');
  hook = new WebhookServer();
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  file = writeConfig({
    postgres: { url: db.url },
    capture: ['items'],
    sinks: [{ name: 'hook', type: 'webhook', url: await hook.start(), headers: { Authorization: `Bearer ${API_TOKEN}` } }],
    http: { port, host: '127.0.0.1', token: CONSOLE_TOKEN },
  });
  assert.equal((await cli(['install', '-c', file])).code, 0);
  await db.query(
    `INSERT INTO pgbridge.dead_letters (instance, sink, event_id, event, key, error, attempts)
     VALUES ('default', 'hook', 'ev-1', $1, '{"id":9007199254740993}', $2, 3)`,
    [EVENT, `webhook hook: HTTP 401: token ${API_TOKEN} "expired"\n`],
  );
});

after(async () => {
  await db?.drop();
  await hook?.stop();
});

test('dead-letters list: the error masked, the line one JSON object with the event as stored', async () => {
  const listed = await cli(['dead-letters', 'list', '-c', file]);
  assert.equal(listed.code, 0, listed.stderr);
  assert.ok(!listed.stdout.includes(API_TOKEN), listed.stdout);
  const lines = listed.stdout.trim().split('\n');
  assert.equal(lines.length, 1);
  const letter = JSON.parse(lines[0]) as Record<string, unknown>;
  assert.deepEqual(Object.keys(letter), ['dead_letter_id', 'sink', 'event_id', 'error', 'attempts', 'failed_at', 'event']);
  assert.equal(letter.error, 'webhook hook: HTTP 401: token *** "expired"\n');
  assert.deepEqual([letter.sink, letter.event_id, letter.attempts], ['hook', 'ev-1', 3]);
  assert.ok(lines[0].includes('"data":{"id":9007199254740993}'), 'the event as stored, every digit');
});

test("the console's dead-letter list: the error masked, and its search cannot find what the mask hides", async () => {
  const bridge = new RunningBridge(file);
  try {
    await bridge.ready();
    const response = await fetch(`${base}/api/dead-letters`, { headers: { authorization: `Bearer ${CONSOLE_TOKEN}` } });
    assert.equal(response.status, 200);
    const text = await response.text();
    assert.ok(!text.includes(API_TOKEN), text);
    const { dead_letters } = JSON.parse(text) as { dead_letters: Array<{ error: string }> };
    assert.deepEqual(
      dead_letters.map((l) => l.error),
      ['webhook hook: HTTP 401: token *** "expired"\n'],
    );
    const found = async (q: string): Promise<number> => {
      const answer = await fetch(`${base}/api/dead-letters?q=${encodeURIComponent(q)}`, { headers: { authorization: `Bearer ${CONSOLE_TOKEN}` } });
      return ((await answer.json()) as { dead_letters: unknown[] }).dead_letters.length;
    };
    // A guessed prefix of the secret must not tell whether it is right.
    assert.deepEqual(await Promise.all(['far-end-tok', 'FAR-END-TOKEN-5e1', 'wrong-guess'].map(found)), [0, 0, 0]);
    assert.deepEqual(await Promise.all(['EXPIRED', 'HTTP 401', '9007199254740993'].map(found)), [1, 1, 1], 'the error as shown, and the event');
  } finally {
    await bridge.stop();
  }
});

test('the search fills its limit past letters whose match only the mask hides: how many come back tells nothing of the secret', async () => {
  // Older than 1,200 letters quoting the secret (more than one read of the search's cursor):
  // with a limit of 1, those newer letters must not stand in the decoy's way.
  const decoy = EVENT.replace('"data":{"id":9007199254740993}', '"data":{"note":"far-end-tok far-end-tox"}').replace('ev-1', 'ev-2');
  await db.query(
    `INSERT INTO pgbridge.dead_letters (instance, sink, event_id, event, key, error, attempts)
     VALUES ('default', 'hook', 'ev-2', $1, NULL, 'plain', 1)`,
    [decoy],
  );
  await db.query(
    `INSERT INTO pgbridge.dead_letters (instance, sink, event_id, event, key, error, attempts)
     SELECT 'default', 'hook', 'quoting-' || n, $1, NULL, $2, 1 FROM generate_series(1, 1200) n`,
    [EVENT.replace('ev-1', 'ev-3'), `webhook hook: HTTP 401: token ${API_TOKEN}`],
  );
  const bridge = new RunningBridge(file);
  try {
    await bridge.ready();
    const found = async (q: string): Promise<string[]> => {
      const answer = await fetch(`${base}/api/dead-letters?limit=1&q=${encodeURIComponent(q)}`, {
        headers: { authorization: `Bearer ${CONSOLE_TOKEN}` },
      });
      return ((await answer.json()) as { dead_letters: Array<{ event_id: string }> }).dead_letters.map((l) => l.event_id);
    };
    assert.deepEqual(await found('far-end-tox'), ['ev-2'], 'a wrong guess finds the decoy');
    assert.deepEqual(await found('far-end-tok'), ['ev-2'], 'a right guess finds the decoy all the same');
  } finally {
    await bridge.stop();
  }
});

test('a limit with a fraction is cut to a whole number: a search gives no more, a list no error', async () => {
  const bridge = new RunningBridge(file);
  try {
    await bridge.ready();
    const listed = async (query: string): Promise<{ status: number; count?: number }> => {
      const answer = await fetch(`${base}/api/dead-letters?${query}`, { headers: { authorization: `Bearer ${CONSOLE_TOKEN}` } });
      if (answer.status !== 200) return { status: answer.status };
      return { status: 200, count: ((await answer.json()) as { dead_letters: unknown[] }).dead_letters.length };
    };
    assert.deepEqual(await listed('limit=2.5&q=hook'), { status: 200, count: 2 }, 'a search, every letter matching');
    assert.deepEqual(await listed('limit=2.5'), { status: 200, count: 2 }, 'the list');
  } finally {
    await bridge.stop();
  }
});

test("a letter's event too long for one JavaScript string: the console says so, and the bridge goes on", { timeout: 300_000 }, async () => {
  // As the dead-letter writer stores an UPDATE of a 280 MB value (data and old over 2^29 characters together).
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO pgbridge.dead_letters (instance, sink, event_id, event, key, error, attempts)
     VALUES ('default', 'hook', 'ev-huge', ('{"id":"ev-huge","data":{"v":"' || repeat('x', 540000000) || '"}}')::json, NULL, 'too large', 1)
     RETURNING id::text AS id`,
  );
  const bridge = new RunningBridge(file);
  try {
    await bridge.ready();
    const headers = { authorization: `Bearer ${CONSOLE_TOKEN}` };
    const answer = await fetch(`${base}/api/dead-letters/${rows[0].id}/event`, { headers });
    assert.equal(answer.status, 422);
    assert.match(((await answer.json()) as { error: string }).error, /too large to show \(540 MB\)/);
    const after = await fetch(`${base}/api/dead-letters/${rows[0].id}/event`, { headers });
    assert.equal(after.status, 422, 'the bridge still answers');
  } finally {
    await bridge.stop();
    await db.query(`DELETE FROM pgbridge.dead_letters WHERE event_id = 'ev-huge'`);
  }
});
