/**
 * Outbox mode across config changes: an event part-delivered when a sink is
 * removed from the config, and dead letters of a sink that is no longer
 * configured, must not stay in the outbox forever nor vanish silently.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { cli, waitFor } from '../support/bridge.js';
import type { TestDatabase } from '../support/pg.js';
import {
  closedPort,
  startedWebhook,
  deliveriesCount,
  insertItems,
  installedConfig,
  itemsDatabase,
  logsWith,
  outboxCount,
  startBridge,
  untilDelivered,
  webhookSink,
} from './outbox-harness.js';

let db: TestDatabase;

before(async () => {
  db = await itemsDatabase();
});

after(async () => {
  await db.drop();
});

async function deadLetterSinks(): Promise<Array<{ sink: string; error: string }>> {
  const { rows } = await db.query<{ sink: string; error: string }>('SELECT sink, error FROM pgbridge.dead_letters ORDER BY id');
  return rows;
}

describe('outbox mode across config changes', () => {
  test('a sink removed while events wait for it: the events the remaining sink has leave the outbox, none is sent again', async (t) => {
    const kept = await startedWebhook(t);
    const removed = `http://127.0.0.1:${await closedPort()}/hook`;
    const before = await installedConfig(db, [webhookSink('kept', kept.url), webhookSink('removed', removed)]);
    const first = startBridge(t, before);
    await first.ready();
    await insertItems(db, 1, 20);
    await untilDelivered(kept.tally, 20, 30000, 'the working sink');
    await waitFor(async () => (await deliveriesCount(db)) === 20, 15000, 'partial progress recorded');
    assert.equal(await first.kill('SIGTERM'), 0);
    assert.equal(await outboxCount(db), 20, 'the 20 events still wait for the removed sink');

    const afterChange = await installedConfig(db, [webhookSink('kept', kept.url)]);
    const second = startBridge(t, afterChange);
    await second.ready();
    await waitFor(async () => (await outboxCount(db)) === 0, 15000, 'the outbox emptied');
    assert.equal(await deliveriesCount(db), 0);
    assert.equal(logsWith(second, 'every sink routed to them already has').length, 1);
    await insertItems(db, 21, 5);
    await untilDelivered(kept.tally, 25, 15000, 'later events');
    assert.equal(kept.tally.duplicates, 0, 'nothing the kept sink had was sent again');
    await second.kill('SIGTERM');
  });

  test('dead letters of a sink no longer configured: retry keeps them and says why; a replayed one stranded in the outbox goes back', async (t) => {
    await db.query('TRUNCATE public.items, pgbridge.dead_letters');
    const refusing = await startedWebhook(t);
    refusing.reply = () => ({ status: 400 });
    const original = await installedConfig(db, [webhookSink('old', refusing.url)]);
    const first = startBridge(t, original);
    await first.ready();
    await insertItems(db, 100, 3);
    await waitFor(async () => (await deadLetterSinks()).length === 3, 15000, 'three dead letters');
    assert.equal(await first.kill('SIGTERM'), 0);

    const accepting = await startedWebhook(t);
    const renamed = await installedConfig(db, [webhookSink('new', accepting.url)]);
    const retry = await cli(['dead-letters', 'retry', '-c', renamed]);
    assert.equal(retry.code, 0, retry.stderr);
    assert.match(retry.stderr, /0 dead letter\(s\) queued/);
    assert.match(retry.stderr, /3 dead letter\(s\) of sink old kept: no sink of that name/);
    assert.equal((await deadLetterSinks()).length, 3);

    // What an older pgbridge could leave: a dead letter replayed to "old", then "old" removed.
    await cli(['dead-letters', 'retry', '-c', original]);
    assert.equal(await outboxCount(db), 3);
    const second = startBridge(t, renamed);
    await second.ready();
    await waitFor(async () => (await outboxCount(db)) === 0, 15000, 'the stranded rows leave the outbox');
    const letters = await deadLetterSinks();
    assert.deepEqual(
      letters.map((l) => [l.sink, l.error]),
      Array.from({ length: 3 }, () => ['old', 'sink old is no longer configured']),
    );
    assert.equal(accepting.tally.unique, 0, 'nothing was sent to the other sink');
    await second.kill('SIGTERM');
  });
});
