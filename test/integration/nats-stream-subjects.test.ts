/**
 * A subject the sink's stream does not listen on, as a black-box audit found
 * it: a dotted schema and table ("My.Schema"."x.y") render
 * <prefix>.My.Schema.x.y.insert, more tokens than the declared stream's
 * <prefix>.*.*.*. JetStream answers "no responders"; retried, that event held
 * every event of its lane behind it for good and republished the rest of its
 * batch on each attempt. It must be dead-lettered alone, its reason naming its
 * subject and the stream's subjects, while every other event is stored once;
 * in wal mode the slot must move on. A "no responders" that can pass (the
 * stream gone, its subjects unknown) stays retriable.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test, type TestContext } from 'node:test';
import { PermanentError, RetriableError } from '../../src/errors.js';
import { NATS_REJECTED } from '../../src/sinks/nats/errors.js';
import type { Sink } from '../../src/sinks/sink.js';
import { cli, RunningBridge, waitFor, writeConfig } from '../support/bridge.js';
import { rowEvent } from '../support/events.js';
import { NATS_URL, NatsAdmin } from '../support/nats.js';
import { createTestDatabase, type TestDatabase } from '../support/pg.js';
import { sendError, silentContext, sinkFromConfig } from '../support/sink-config.js';
import { dropSlots, lsnValue, slotInfo, slotName, streaming } from '../support/wal.js';
import { logsWith, outboxCount } from './outbox-harness.js';

const never = new AbortController().signal;
let admin: NatsAdmin;

before(async () => {
  admin = await NatsAdmin.connect();
});
after(() => admin.close());

/** A stream and subject prefix of one test alone, deleted after it. */
function scope(t: TestContext): { stream: string; prefix: string; subject: string; channel_subject: string } {
  const tag = randomBytes(4).toString('hex');
  const prefix = `nsub_${tag}`;
  t.after(() => admin.deleteStream(`${prefix}_S`));
  return { stream: `${prefix}_S`, prefix, subject: `${prefix}.{schema}.{table}.{op}`, channel_subject: `${prefix}.channel.{channel}` };
}

interface DeadLetter {
  sink: string;
  error: string;
  event: { schema: string; table: string; op: string; data: { id: number } };
}

describe('nats sink through the bridge: an event whose subject the stream does not take', () => {
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase('pgbridge_natssubj');
    await db.query(`CREATE TABLE public.wh (id int PRIMARY KEY, v text);
      CREATE SCHEMA "My.Schema"; CREATE TABLE "My.Schema"."x.y" (id int PRIMARY KEY, v text)`);
  });
  after(async () => {
    if (db) await dropSlots(db);
    await db?.drop();
  });

  /**
   * The audit's statements against a declared stream over <prefix>.*.*.*, four lanes: the
   * dotted row's two events are dead-lettered, each naming its own subject, and all 40
   * normal rows arrive once, without a batch being published twice.
   */
  async function auditCase(t: TestContext, mode: 'outbox' | 'wal'): Promise<{ bridge: RunningBridge; slot: string }> {
    await db.query('DROP SCHEMA IF EXISTS pgbridge CASCADE; TRUNCATE public.wh, "My.Schema"."x.y"');
    await dropSlots(db);
    const s = scope(t);
    const slot = slotName(db, mode);
    const file = writeConfig({
      postgres: { url: db.url },
      delivery: mode,
      ...(mode === 'wal' ? { wal: { slot, heartbeat_interval_ms: 500, status_interval_ms: 1000 } } : { outbox: { poll_interval_ms: 200 } }),
      capture: [{ table: 'public.wh' }, { table: '"My.Schema"."x.y"' }],
      sinks: [
        {
          name: 'js',
          type: 'nats',
          url: NATS_URL,
          stream: s.stream,
          declare: true,
          subject: s.subject,
          channel_subject: s.channel_subject,
          max_in_flight: 4,
          retry: { initial_ms: 50, max_ms: 500 },
        },
      ],
      http: { port: 0 },
      log: { level: 'info' },
    });
    const install = await cli(['install', '-c', file]);
    assert.equal(install.code, 0, install.stderr);
    const bridge = new RunningBridge(file);
    t.after(() => bridge.kill('SIGKILL'));
    if (mode === 'wal') await streaming(bridge);
    else await bridge.ready();

    await db.query(`INSERT INTO "My.Schema"."x.y" VALUES (5, 'dotted'); UPDATE "My.Schema"."x.y" SET v = 'again' WHERE id = 5;
      INSERT INTO wh SELECT g, 'v' FROM generate_series(1, 40) g`);
    const deadLetters = async (): Promise<DeadLetter[]> =>
      (await db.query<DeadLetter>(`SELECT sink, error, event FROM pgbridge.dead_letters ORDER BY id`)).rows;
    const rows = async (): Promise<number[]> =>
      (await admin.read(s.stream)).map((m) => (JSON.parse(m.data) as { data: { id: number } }).data.id).sort((a, b) => a - b);
    await waitFor(
      async () => (await deadLetters()).length === 2 && new Set(await rows()).size === 40,
      30_000,
      'the 40 rows of wh in the stream and the 2 events of x.y dead-lettered',
    ).catch(async (err: unknown) => {
      const got = new Set(await rows());
      const missing = Array.from({ length: 40 }, (_, i) => i + 1).filter((id) => !got.has(id));
      const duplicates = logsWith(bridge, 'JetStream dropped redelivered events as duplicates').length;
      assert.fail(
        `${String(err)}: ${got.size} of 40 rows stored (missing ${JSON.stringify(missing)}), ${(await deadLetters()).length} dead letter(s), ${duplicates} log line(s) of duplicates dropped`,
      );
    });

    const stored = await admin.read(s.stream);
    assert.deepEqual(
      await rows(),
      Array.from({ length: 40 }, (_, i) => i + 1),
      'every row of wh stored once',
    );
    assert.ok(
      stored.every((m) => m.subject === `${s.prefix}.public.wh.insert`),
      'nothing of x.y stored',
    );
    assert.deepEqual(logsWith(bridge, 'JetStream dropped redelivered events as duplicates'), [], 'no batch was published again');

    const dead = await deadLetters();
    assert.deepEqual(dead.map((d) => [d.sink, d.event.schema, d.event.table, d.event.op, d.event.data.id]).sort(), [
      ['js', 'My.Schema', 'x.y', 'INSERT', 5],
      ['js', 'My.Schema', 'x.y', 'UPDATE', 5],
    ]);
    for (const d of dead) {
      const subject = `${s.prefix}.My.Schema.x.y.${d.event.op.toLowerCase()}`;
      assert.ok(d.error.includes(JSON.stringify(subject)), `the dead letter of the ${d.event.op} names its own subject: ${d.error}`);
      assert.ok(d.error.includes(`${s.prefix}.*.*.*`), `and the stream's subjects: ${d.error}`);
      assert.ok(d.error.includes(s.stream), `and the stream: ${d.error}`);
    }
    return { bridge, slot };
  }

  test('outbox mode: the dotted row is dead-lettered alone, the 40 other rows arrive once, the outbox empties', async (t) => {
    await auditCase(t, 'outbox');
    await waitFor(async () => (await outboxCount(db)) === 0, 10_000, 'an empty outbox');
  });

  test('wal mode: the same, and the slot moves past the transaction', async (t) => {
    const { slot } = await auditCase(t, 'wal');
    const { rows } = await db.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
    const written = lsnValue(rows[0].lsn);
    await waitFor(async () => lsnValue((await slotInfo(slot)).confirmed!) >= written, 30_000, `the slot to move past ${rows[0].lsn}`);
  });
});

describe('nats sink: subjects checked against the stream when JetStream answers "no responders"', () => {
  function sink(t: TestContext, raw: Record<string, unknown>): Sink {
    const made = sinkFromConfig(
      { name: 'js', type: 'nats', url: NATS_URL, timeout_ms: 3000, connect_timeout_ms: 3000, ...raw },
      silentContext('itdb'),
    );
    t.after(() => made.close());
    return made;
  }

  const dotted = (table = 'x.y', op: 'INSERT' | 'UPDATE' = 'INSERT') => rowEvent({ schema: 'My.Schema', table, op });

  test('a batch with subjects the stream does not take: each event refused alone with its own subject, the rest stored once', async (t) => {
    const s = scope(t);
    const target = sink(t, { stream: s.stream, declare: true, subject: s.subject, channel_subject: s.channel_subject });
    await target.connect(never);
    const good = [rowEvent(), rowEvent(), rowEvent()];
    const [first, second] = [dotted('x.y'), dotted('a.b', 'UPDATE')];
    const spaced = rowEvent({ table: 'my table' });
    const err = await sendError(target, [good[0], first, good[1], spaced, second, good[2]]);
    assert.ok(err instanceof PermanentError, String(err));
    assert.equal(err.code, NATS_REJECTED);
    assert.deepEqual([...(err.failedIds ?? [])].sort(), [first.id, second.id, spaced.id].sort());
    assert.match(
      err.reasonFor(first.id),
      new RegExp(`subject "${s.prefix}\\.My\\.Schema\\.x\\.y\\.insert" is not one stream "${s.stream}" listens on \\(${s.prefix}\\.\\*\\.\\*\\.\\*`),
    );
    assert.match(err.reasonFor(second.id), new RegExp(`subject "${s.prefix}\\.My\\.Schema\\.a\\.b\\.update"`));
    assert.match(err.reasonFor(spaced.id), /subject ".*my table.*" contains whitespace/);
    assert.deepEqual(
      (await admin.read(s.stream)).map((m) => m.headers['Nats-Msg-Id']),
      good.map((e) => e.id),
    );
  });

  test('the stream widened while connected: the dotted subject is taken', async (t) => {
    const s = scope(t);
    const target = sink(t, { stream: s.stream, declare: true, subject: s.subject, channel_subject: s.channel_subject });
    await target.connect(never);
    await admin.jsm.streams.update(s.stream, { subjects: [`${s.prefix}.*.*.*`, `${s.prefix}.channel.*`, `${s.prefix}.My.Schema.x.y.*`] });
    const event = dotted();
    await target.send([event], never);
    assert.deepEqual(
      (await admin.read(s.stream)).map((m) => m.subject),
      [`${s.prefix}.My.Schema.x.y.insert`],
    );
  });

  test('the stream narrowed while connected: looked up again, the subject it no longer takes is refused naming its subjects now', async (t) => {
    const s = scope(t);
    await admin.createStream(s.stream, [`${s.prefix}.>`]);
    const target = sink(t, { stream: s.stream, subject: s.subject, channel_subject: s.channel_subject });
    await target.connect(never);
    await target.send([dotted()], never);
    await admin.jsm.streams.update(s.stream, { subjects: [`${s.prefix}.public.>`] });
    const event = dotted();
    const err = await sendError(target, [event]);
    assert.ok(err instanceof PermanentError, String(err));
    assert.deepEqual(err.failedIds, [event.id]);
    assert.match(err.message, new RegExp(`listens on \\(${s.prefix}\\.public\\.>\\)`));
  });

  test('the stream deleted while connected: "no responders" stays retriable (its subjects are unknown)', async (t) => {
    const s = scope(t);
    const target = sink(t, { stream: s.stream, declare: true, subject: s.subject, channel_subject: s.channel_subject });
    await target.connect(never);
    await admin.deleteStream(s.stream);
    const err = await sendError(target, [dotted(), rowEvent()]);
    assert.ok(err instanceof RetriableError && !(err instanceof PermanentError), String(err));
    assert.match(err.message, /no JetStream stream took the message/);
  });

  test('no stream key: a subject nothing listens on stays retriable (a stream may be created for it)', async (t) => {
    const s = scope(t);
    const target = sink(t, { subject: s.subject });
    await target.connect(never);
    const err = await sendError(target, [dotted()]);
    assert.ok(err instanceof RetriableError && !(err instanceof PermanentError), String(err));
  });
});
