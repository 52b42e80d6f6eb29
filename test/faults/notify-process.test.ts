/**
 * pgbridge process faults in notify mode (outbox mode: test/integration/outbox-crash.test.ts).
 * Rows stream in while the process is SIGKILLed and restarted, SIGTERMed and
 * restarted, or killed with a standby taking over. Notify mode keeps nothing,
 * so loss is expected, but only of rows committed while nothing listened (or
 * held in the killed process's memory): every row committed once the next
 * process listens arrives, nothing arrives twice, and the log says so.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RunningBridge } from '../support/bridge.js';
import type { TestDatabase } from '../support/pg.js';
import { WebhookServer } from '../support/webhook-server.js';
import { installedConfig, itemsDatabase, logsWith, startBridge, untilDelivered, webhookSink } from '../integration/outbox-harness.js';
import { printCounts } from './tally.js';

const PER_STATEMENT = 5;
let db: TestDatabase;

before(async () => {
  db = await itemsDatabase();
});

after(async () => {
  await db.drop();
});

/** Inserts PER_STATEMENT rows at a time until stopped, remembering when each statement returned (committed). */
class Writer {
  readonly committedAt = new Map<number, number>();
  private stopped = false;
  private readonly done: Promise<void>;

  constructor() {
    this.done = (async () => {
      for (let from = 1; !this.stopped; from += PER_STATEMENT) {
        await db.query('INSERT INTO public.items (id) SELECT g FROM generate_series($1::bigint, $2::bigint) g', [from, from + PER_STATEMENT - 1]);
        const now = Date.now();
        for (let id = from; id < from + PER_STATEMENT; id++) this.committedAt.set(id, now);
        await sleep(15);
      }
    })();
  }

  get count(): number {
    return this.committedAt.size;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }
}

async function setUp(t: TestContext, extra: Record<string, unknown> = {}): Promise<{ hook: WebhookServer; config: string }> {
  await db.query('TRUNCATE public.items');
  const hook = new WebhookServer();
  await hook.start();
  t.after(() => hook.stop());
  const config = await installedConfig(db, [webhookSink('hook', hook.url)], { delivery: 'notify', ...extra });
  return { hook, config };
}

/**
 * Stops the writer a little after `listening` (when the next process listens),
 * then checks: no row committed after that is lost, none arrives twice. Prints the counts.
 */
async function finish(
  t: TestContext,
  fault: string,
  writer: Writer,
  hook: WebhookServer,
  listeningAt: number,
  extra: Record<string, number | string>,
): Promise<void> {
  const atListening = writer.count;
  while (writer.count < atListening + 200) await sleep(20);
  await writer.stop();
  const committedLater = [...writer.committedAt].filter(([, at]) => at > listeningAt).map(([id]) => id);
  const got = new Set(hook.tally.accepted.map((e) => e.rowId));
  await untilDelivered(
    hook.tally,
    hook.tally.unique + committedLater.filter((id) => !got.has(id)).length,
    20_000,
    'every row committed after listening again',
  );
  const delivered = new Set(hook.tally.accepted.map((e) => e.rowId));
  const lost = [...writer.committedAt.keys()].filter((id) => !delivered.has(id));
  const lostAfterListening = committedLater.filter((id) => !delivered.has(id));
  printCounts(
    t,
    fault,
    'notify',
    { sent: writer.count, delivered: delivered.size, lost: lost.length, duplicates: hook.tally.duplicates },
    {
      ...extra,
      lost_after_listening_again: lostAfterListening.length,
    },
  );
  assert.deepEqual(lostAfterListening, [], 'rows committed once a process listened again');
  assert.equal(hook.tally.duplicates, 0, 'notify mode never sends an event twice');
  assert.ok(delivered.size > 0);
}

function warnsOfLoss(bridge: RunningBridge, text: string): boolean {
  return logsWith(bridge, text).some((e) => e.level === 40);
}

/** Waits for the line logged once LISTEN is done; returns when this test saw it (a little after the fact, never before). */
async function listening(bridge: RunningBridge, timeoutMs = 15_000): Promise<number> {
  await bridge.waitForLog((e) => e.level === 40 && String(e.msg).startsWith('notify mode: listening from now on'), timeoutMs);
  return Date.now();
}

describe('notify mode: process faults', () => {
  test('SIGKILL mid-stream, then start again: loss only while nothing listened', async (t) => {
    const { hook, config } = await setUp(t);
    const first = startBridge(t, config);
    await listening(first);
    const writer = new Writer();
    await untilDelivered(hook.tally, 300, 20_000, 'a first part of the stream');
    await first.kill('SIGKILL');
    const killedAt = Date.now();
    const deliveredAtKill = hook.tally.unique;
    const second = startBridge(t, config);
    const listeningAt = await listening(second); // the restart says that what it missed is lost
    await finish(t, 'sigkill-restart', writer, hook, listeningAt, { delivered_at_kill: deliveredAtKill, gap_ms: listeningAt - killedAt });
    assert.equal(await second.kill('SIGTERM'), 0);
  });

  test('SIGTERM mid-stream: exit 0, what it had received is delivered, the log says what follows is lost; restart', async (t) => {
    const { hook, config } = await setUp(t, { shutdown_timeout_ms: 3000 });
    const first = startBridge(t, config);
    await listening(first);
    const writer = new Writer();
    await untilDelivered(hook.tally, 300, 20_000, 'a first part of the stream');
    const signalledAt = Date.now();
    const code = await first.kill('SIGTERM');
    const exitMs = Date.now() - signalledAt;
    const deliveredAtExit = hook.tally.unique;
    assert.equal(code, 0);
    assert.ok(warnsOfLoss(first, 'notify mode: stopped listening'), 'the shutdown says changes from now on are lost');
    // Delivered at exit: everything committed well before the signal reached the far end (the in-memory queue was finished).
    const before = [...writer.committedAt].filter(([, at]) => at < signalledAt - 1000).map(([id]) => id);
    const got = new Set(hook.tally.accepted.map((e) => e.rowId));
    assert.deepEqual(
      before.filter((id) => !got.has(id)),
      [],
      'rows committed a second before SIGTERM were all delivered before exit',
    );

    const second = startBridge(t, config);
    await finish(t, 'sigterm-restart', writer, hook, await listening(second), {
      delivered_at_exit: deliveredAtExit,
      exit_ms: exitMs,
      exit_code: String(code),
    });
    assert.equal(await second.kill('SIGTERM'), 0);
  });

  test('two instances: SIGKILL the active one mid-stream, the standby takes over and delivers what follows', async (t) => {
    const { hook, config } = await setUp(t);
    const one = startBridge(t, config);
    await listening(one);
    const two = startBridge(t, config);
    await two.waitForLog((e) => e.msg === 'another pgbridge instance delivers; standing by');
    const writer = new Writer();
    await untilDelivered(hook.tally, 300, 20_000, 'a first part of the stream');
    await one.kill('SIGKILL');
    const killedAt = Date.now();
    const listeningAt = await listening(two, 10_000); // the takeover says that what it missed is lost
    await finish(t, 'sigkill-failover', writer, hook, listeningAt, { takeover_ms: listeningAt - killedAt });
    assert.equal(await two.kill('SIGTERM'), 0);
  });
});
