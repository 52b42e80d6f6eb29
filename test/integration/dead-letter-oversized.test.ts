/**
 * A row Postgres holds can make an event longer than a JavaScript string can
 * be: a 280 MB text value, updated, is 560 MB of data and old. The capture
 * takes it; the sink cannot encode it, so it becomes a dead letter at once
 * (no retry can help), whole, and delivery goes on: the outbox does not keep
 * it and every event after it.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { installAndRun, type RunningBridge, showingLogOnFailure, waitFor, writeConfig } from '../support/bridge.js';
import { createTestDatabase, type TestDatabase } from '../support/pg.js';
import { WebhookServer } from '../support/webhook-server.js';

/** Characters of the value: data and old together are over 2^29 (a JavaScript string's limit), each alone under it. */
const VALUE_CHARS = 280_000_000;

let db: TestDatabase;
let bridge: RunningBridge | undefined;
const hook = new WebhookServer();

before(async () => {
  db = await createTestDatabase('pgbridge_oversized');
  await db.query(`CREATE TABLE big (id int PRIMARY KEY, n int NOT NULL, v text NOT NULL)`);
  // Only UPDATEs are captured: the INSERT of the large value sends nothing.
  await db.query(`INSERT INTO big VALUES (1, 0, repeat('x', ${VALUE_CHARS})), (2, 0, 'small')`);
  const file = writeConfig({
    postgres: { url: db.url },
    capture: [{ table: 'big', ops: ['update'] }],
    // Retries unlimited (the default): an event no retry can encode must not wait for ever, its row's later events behind it.
    sinks: [{ name: 'hook', type: 'webhook', url: await hook.start() }],
    http: { port: 0 },
  });
  bridge = await installAndRun(file);
});

after(async () => {
  await bridge?.kill('SIGKILL');
  await hook.stop();
  await db?.drop();
});

test(
  'an UPDATE event over 512 MB: the statement succeeds, the event is a whole dead letter, the events after it are delivered and leave the outbox',
  { timeout: 300_000 },
  async () => {
    const { rows: updated } = await db.query<{ id: string }>(`UPDATE big SET n = 1 WHERE id = 1 RETURNING id`);
    assert.equal(updated.length, 1);
    await db.query(`UPDATE big SET n = 1 WHERE id = 2`);
    await showingLogOnFailure(
      bridge!,
      waitFor(() => hook.delivered().some((e) => (e as { data: { id: number } }).data.id === 2), 120_000, 'the small row after the large one'),
    );
    await showingLogOnFailure(
      bridge!,
      waitFor(async () => (await db.query(`SELECT 1 FROM pgbridge.dead_letters`)).rowCount === 1, 120_000, 'the dead letter'),
    );
    const { rows } = await db.query<{ op: string; data_chars: number; old_chars: number; attempts: number; sink: string }>(
      `SELECT event->>'op' AS op, length(event->'data'->>'v') AS data_chars, length(event->'old'->>'v') AS old_chars, attempts, sink
       FROM pgbridge.dead_letters`,
    );
    assert.deepEqual(rows, [{ op: 'UPDATE', data_chars: VALUE_CHARS, old_chars: VALUE_CHARS, attempts: 1, sink: 'hook' }]);
    await showingLogOnFailure(
      bridge!,
      waitFor(async () => (await db.query(`SELECT 1 FROM pgbridge.outbox`)).rowCount === 0, 60_000, 'the outbox empty'),
    );
  },
);
