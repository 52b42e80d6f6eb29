/**
 * The NATS JetStream sink against real servers: the bridge's events as a
 * JetStream consumer reads them (headers, Nats-Msg-Id, CloudEvents parsed by
 * the SDK), a forced redelivery stored once, the declared stream, and every
 * auth method on a private nats-server. What is retried and what is
 * permanent is taken from what the real server answers.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import { jetstream } from '@nats-io/jetstream';
import { HTTP, type CloudEvent } from 'cloudevents';
import { PermanentError, RetriableError } from '../../src/errors.js';
import { NATS_REJECTED, NATS_RETRIABLE, NATS_UNAVAILABLE } from '../../src/sinks/nats/errors.js';
import type { Sink } from '../../src/sinks/sink.js';
import { waitFor } from '../support/bridge.js';
import { binaryCloudEventOf } from '../support/binary-cloud-event.js';
import { pgbridgeBody } from '../support/contract-bodies.js';
import { channelEvent, ODD_SUBJECTS, oddlyNamedRows, rowEvent } from '../support/events.js';
import { NATS_URL, NatsAdmin, PrivateNatsServer } from '../support/nats.js';
import { makeTlsFiles, operatorSetup, tlsServerConfig } from '../support/nats-auth.js';
import { terminateBackends, type TestDatabase } from '../support/pg.js';
import { sendError, silentContext, sinkFromConfig } from '../support/sink-config.js';
import { client, insertItems, installedConfig, itemsDatabase, logsWith, outboxCount, startBridge } from './outbox-harness.js';

const never = new AbortController().signal;
let admin: NatsAdmin;

before(async () => {
  admin = await NatsAdmin.connect();
});
after(() => admin.close());

const tag = (): string => randomBytes(4).toString('hex');

/** A stream and subject prefix of one test alone. */
function scope(): { stream: string; prefix: string; subject: string; channel_subject: string } {
  const t = tag();
  return { stream: `it_${t}`, prefix: `it_${t}`, subject: `it_${t}.{schema}.{table}.{op}`, channel_subject: `it_${t}.channel.{channel}` };
}

function sink(t: TestContext, raw: Record<string, unknown>): Sink {
  const made = sinkFromConfig({ name: 'js', type: 'nats', url: NATS_URL, timeout_ms: 3000, connect_timeout_ms: 3000, ...raw }, silentContext('itdb'));
  t.after(() => made.close());
  return made;
}

async function declared(t: TestContext, extra: Record<string, unknown> = {}): Promise<{ sink: Sink; stream: string; prefix: string }> {
  const s = scope();
  t.after(() => admin.deleteStream(s.stream));
  const made = sink(t, { stream: s.stream, subject: s.subject, channel_subject: s.channel_subject, declare: true, ...extra });
  await made.connect(never);
  return { sink: made, stream: s.stream, prefix: s.prefix };
}

async function connectError(target: Sink): Promise<RetriableError> {
  try {
    await target.connect(never);
  } catch (err) {
    assert.ok(err instanceof RetriableError, `not a RetriableError: ${String(err)}`);
    assert.ok(!target.isReady());
    return err;
  }
  assert.fail('connect resolved');
}

describe('nats sink: what a JetStream consumer reads', () => {
  let db: TestDatabase;
  before(async () => {
    db = await itemsDatabase();
  });
  after(() => db?.drop());

  test('through the bridge: one message per event on pgbridge.{schema}.{table}.{op}, Nats-Msg-Id = event id, the Kafka headers', async (t) => {
    await db.query('DROP SCHEMA IF EXISTS pgbridge CASCADE; TRUNCATE public.items');
    const s = scope();
    t.after(() => admin.deleteStream(s.stream));
    const config = await installedConfig(db, [
      { name: 'js', type: 'nats', url: NATS_URL, stream: s.stream, declare: true, subject: s.subject } as never,
    ]);
    const bridge = startBridge(t, config);
    await bridge.ready();
    await insertItems(db, 1, 3);
    await db.query('UPDATE public.items SET v = 1 WHERE id = 2');
    await db.query('DELETE FROM public.items WHERE id = 3');
    await waitFor(
      async () => (await admin.streamExists(s.stream)) && (await admin.read(s.stream)).length >= 5,
      20_000,
      'five messages in the stream',
    );
    const stored = await admin.read(s.stream);
    // Rows go through parallel lanes: the order holds per row, not across them.
    assert.deepEqual(
      stored.map((m) => m.subject).sort(),
      ['delete', 'insert', 'insert', 'insert', 'update'].map((op) => `${s.prefix}.public.items.${op}`),
    );
    for (const m of stored) {
      const body = JSON.parse(m.data) as { id: string; op: string; table: string };
      assert.equal(m.headers['Nats-Msg-Id'], body.id);
      assert.equal(m.headers['pgbridge-id'], body.id);
      assert.equal(m.headers['pgbridge-op'], body.op);
      assert.equal(m.headers['pgbridge-table'], 'public.items');
      assert.equal(m.headers['content-type'], 'application/json');
    }
    await waitFor(async () => (await outboxCount(db)) === 0, 10_000, 'an empty outbox');
  });

  test('declare: true creates the stream over the wildcards of subject and channel_subject, with the duplicate window', async (t) => {
    const { stream, prefix } = await declared(t, { duplicate_window_ms: 60_000 });
    const info = await admin.jsm.streams.info(stream);
    assert.deepEqual(info.config.subjects, [`${prefix}.*.*.*`, `${prefix}.channel.*`]);
    assert.equal(info.config.duplicate_window, 60_000 * 1e6);
    assert.equal(info.config.storage, 'file');
  });

  test('declare: true with a channel_subject the subject wildcard covers: the stream goes over the broader one alone and stores both', async (t) => {
    const { stream, prefix } = scope();
    t.after(() => Promise.all([admin.deleteStream(stream), admin.deleteStream(`${stream}_both`)]));
    const target = sink(t, { stream, declare: true, subject: `${prefix}.{table}.{op}`, channel_subject: `${prefix}.ch.{channel}` });
    await target.connect(never);

    assert.deepEqual((await admin.jsm.streams.info(stream)).config.subjects, [`${prefix}.*.*`]);
    await target.send([rowEvent({ op: 'INSERT' }), channelEvent({ channel: 'jobs' })], never);
    assert.deepEqual(
      (await admin.read(stream)).map((m) => m.subject),
      [`${prefix}.orders.insert`, `${prefix}.ch.jobs`],
    );
    // Why leaving one out is needed, and why a partial overlap is a config error: JetStream refuses both.
    for (const subjects of [
      [`${prefix}.*.*`, `${prefix}.ch.*`],
      [`${prefix}.*.y`, `${prefix}.a.*`],
    ]) {
      await assert.rejects(admin.createStream(`${stream}_both`, subjects), /overlaps with/);
    }
  });

  test('a redelivery (the same batch sent again, ids unchanged) is stored once, payloads as CONTRACT §3 says', async (t) => {
    const { sink: target, stream } = await declared(t);
    const batch = [rowEvent(), rowEvent(), channelEvent()];
    await target.send(batch, never);
    await target.send(batch, never);
    const stored = await admin.read(stream);
    assert.deepEqual(
      stored.map((m) => [m.headers['Nats-Msg-Id'], m.data]),
      batch.map((e) => [e.id, pgbridgeBody(e)]),
    );
  });

  test('SIGKILL between the PubAcks and the outbox progress write: the restarted bridge publishes again, JetStream stores each event once', async (t) => {
    await db.query('DROP SCHEMA IF EXISTS pgbridge CASCADE; TRUNCATE public.items');
    const s = scope();
    t.after(() => admin.deleteStream(s.stream));
    await admin.createStream(s.stream, [`${s.prefix}.>`]);
    const config = await installedConfig(db, [
      { name: 'js', type: 'nats', url: NATS_URL, stream: s.stream, subject: s.subject, max_in_flight: 4, max_batch: 100 } as never,
    ]);
    await insertItems(db, 1, 2000);
    // Progress writes (DELETEs from the outbox) wait behind this lock; reads (SELECT) do not.
    const locker = await client(db);
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE pgbridge.outbox IN EXCLUSIVE MODE');
    const first = startBridge(t, config);
    await waitFor(async () => (await admin.read(s.stream)).length >= 500, 30_000, '500 events published');
    await first.kill('SIGKILL');
    // Its backends live on, one waiting with the DELETE that would record the progress: end them before the lock goes.
    await terminateBackends(db.name, 'pgbridge');
    const publishedBeforeKill = (await admin.read(s.stream)).length;
    await locker.query('ROLLBACK');
    await locker.end();
    assert.equal(await outboxCount(db), 2000, 'nothing was recorded as delivered: the restart must publish them again');

    const second = startBridge(t, config);
    await waitFor(async () => (await outboxCount(db)) === 0, 30_000, 'the restarted bridge to deliver the whole outbox');
    const stored = await admin.read(s.stream);
    const ids = stored.map((m) => m.headers['Nats-Msg-Id']);
    const rows = stored.map((m) => (JSON.parse(m.data) as { data: { id: number } }).data.id);
    t.diagnostic(
      `published before SIGKILL ${publishedBeforeKill}, stored ${stored.length}, distinct ids ${new Set(ids).size}, distinct rows ${new Set(rows).size}`,
    );
    assert.equal(new Set(rows).size, 2000, 'every row arrived');
    assert.equal(stored.length, 2000, 'each event stored once although the first publishedBeforeKill were published twice');
    const dropped = (): number =>
      logsWith(second, 'JetStream dropped redelivered events as duplicates').reduce((n, e) => n + Number(e.duplicates), 0);
    // The log lines of the last batches may still be on their way.
    await waitFor(() => dropped() >= publishedBeforeKill, 10_000, 'the duplicates to be logged').catch(() => undefined);
    assert.ok(dropped() >= publishedBeforeKill, `JetStream reported ${dropped()} duplicates, expected at least ${publishedBeforeKill}`);
  });

  test('format cloudevents: binary mode, ce-* headers; each message parses and validates with the CloudEvents SDK', async (t) => {
    const { sink: target, stream } = await declared(t, { format: 'cloudevents' });
    const row = rowEvent({ table: 'orders', op: 'UPDATE' });
    const notice = channelEvent({ channel: 'jobs', payload: 'plain text' });
    await target.send([row, notice], never);
    const events: CloudEvent<unknown>[] = (await admin.read(stream)).map(
      (m) => HTTP.toEvent({ headers: m.headers, body: m.data }) as CloudEvent<unknown>,
    );
    for (const event of events) assert.equal(event.validate(), true);
    assert.deepEqual(
      events.map((e) => [e.id, e.type, e.source, e.subject, e.datacontenttype]),
      [
        [row.id, 'pgbridge.row.update', '/pgbridge/itdb/public.orders', row.id, 'application/json'],
        [notice.id, 'pgbridge.notify', '/pgbridge/itdb/channel/jobs', undefined, 'application/json'],
      ],
    );
    assert.deepEqual(events[0].data, { data: JSON.parse(row.data), old: JSON.parse(row.old!) });
    assert.equal(events[1].data, 'plain text');
  });

  test('header values are percent-encoded (CloudEvents NATS binding): a name or key with a line break, space, % or non-ASCII letters travels and decodes back, with the rest of its batch', async (t) => {
    for (const format of ['pgbridge', 'cloudevents']) {
      const s = scope();
      t.after(() => admin.deleteStream(s.stream));
      // One subject for every row: these names could not be subject tokens.
      const target = sink(t, { stream: s.stream, declare: true, subject: `${s.prefix}.rows`, channel_subject: s.channel_subject, format });
      await target.connect(never);
      const { broken, odd } = oddlyNamedRows();
      const batch = [rowEvent(), broken, odd, rowEvent()];
      await target.send(batch, never);

      const stored = await admin.read(s.stream);
      assert.deepEqual(
        stored.map((m) => m.headers['Nats-Msg-Id']),
        batch.map((e) => e.id),
        `format ${format}: the whole batch stored`,
      );
      const headers = stored.map((m) => m.headers);
      // Written out from the binding: UTF-8 bytes of all but printable ASCII, and space, " and %, as %XX.
      assert.equal(headers[1]['pgbridge-table'], 'public.nl%0Ax');
      assert.equal(headers[2]['pgbridge-table'], 'm%C3%BCnchen.%20100%25%20%22q%22%20%CE%A9');
      for (const i of [1, 2]) {
        assert.equal(decodeURIComponent(headers[i]['pgbridge-table']), `${batch[i].schema}.${batch[i].table}`);
        if (format === 'cloudevents') assert.equal(binaryCloudEventOf(headers[i], stored[i].data).subject, ODD_SUBJECTS[i]);
      }
      if (format === 'cloudevents') {
        assert.equal(headers[1]['ce-subject'], 'a%0D%0A%C2%85b%EF%BF%BF');
        assert.equal(headers[2]['ce-subject'], '%CE%A9-key%20%C3%A9');
        assert.equal(headers[2]['ce-source'], '/pgbridge/itdb/m%25C3%25BCnchen.%2520100%2525%2520%2522q%2522%2520%25CE%25A9');
      }
    }
  });
});

describe('nats sink: retried or permanent, as the real server answers', () => {
  test('no stream takes the subject (no responders): RetriableError, retried', async (t) => {
    const target = sink(t, { subject: `nostream_${tag()}.{table}` });
    await target.connect(never);
    const err = await sendError(target, [rowEvent()]);
    assert.ok(err instanceof RetriableError && !(err instanceof PermanentError), String(err));
    assert.equal(err.code, NATS_RETRIABLE);
    assert.match(err.message, /no JetStream stream took the message/);
  });

  test('stream given, but the subject is stored by another stream: PermanentError (err_code 10060)', async (t) => {
    const { stream } = await declared(t);
    const other = scope();
    await admin.createStream(other.stream, [`${other.prefix}.>`]);
    t.after(() => admin.deleteStream(other.stream));
    const target = sink(t, { stream, subject: `${other.prefix}.{table}` });
    await target.connect(never);
    const event = rowEvent();
    const err = await sendError(target, [event]);
    assert.ok(err instanceof PermanentError, String(err));
    assert.deepEqual(err.failedIds, [event.id]);
    assert.match(err.message, /10060/);
  });

  test("over the server's max_payload: PermanentError for that event alone, with the sizes; the others stored", async (t) => {
    const { sink: target, stream } = await declared(t);
    const big = rowEvent({ data: JSON.stringify({ blob: 'x'.repeat(1_100_000) }) });
    const good = rowEvent();
    const err = await sendError(target, [big, good]);
    assert.ok(err instanceof PermanentError, String(err));
    assert.deepEqual(err.failedIds, [big.id]);
    assert.equal(err.code, NATS_REJECTED);
    assert.match(err.message, /exceeds the server's max_payload of 1048576 bytes/);
    assert.deepEqual(
      (await admin.read(stream)).map((m) => m.headers['Nats-Msg-Id']),
      [good.id],
    );
  });

  test("over the stream's max_msg_size: PermanentError (err_code 10054)", async (t) => {
    const s = scope();
    await admin.createStream(s.stream, [`${s.prefix}.>`], { max_msg_size: 200 });
    t.after(() => admin.deleteStream(s.stream));
    const target = sink(t, { stream: s.stream, subject: s.subject });
    await target.connect(never);
    const err = await sendError(target, [rowEvent({ data: JSON.stringify({ note: 'y'.repeat(300) }) })]);
    assert.ok(err instanceof PermanentError, String(err));
    assert.match(err.message, /10054/);
  });

  test('stream full (max_msgs, discard new): RetriableError (err_code 10077); room made, the same send goes through', async (t) => {
    const s = scope();
    await admin.createStream(s.stream, [`${s.prefix}.>`], { max_msgs: 1, discard: 'new' });
    t.after(() => admin.deleteStream(s.stream));
    const target = sink(t, { stream: s.stream, subject: s.subject });
    await target.connect(never);
    await target.send([rowEvent()], never);
    const next = rowEvent();
    const err = await sendError(target, [next]);
    assert.ok(err instanceof RetriableError && !(err instanceof PermanentError), String(err));
    assert.match(err.message, /10077/);
    await admin.jsm.streams.purge(s.stream);
    await target.send([next], never);
    assert.deepEqual(
      (await admin.read(s.stream)).map((m) => m.headers['Nats-Msg-Id']),
      [next.id],
    );
  });

  test("stream full for a row's large event but not its small next one: nothing of the row stored ahead of it, sent again in order", async (t) => {
    const s = scope();
    await admin.createStream(s.stream, [`${s.prefix}.>`], { max_bytes: 6000, discard: 'new' });
    t.after(() => admin.deleteStream(s.stream));
    // Junk up to about a kilobyte below the limit: room for a small message, not for a large one.
    const js = jetstream(admin.connection);
    for (let n = 0; n < 4; n++) await js.publish(`${s.prefix}.junk`, 'j'.repeat(1000));
    const target = sink(t, { stream: s.stream, subject: s.subject });
    await target.connect(never);
    const row = { key: '{"id":1}' };
    const batch = [
      rowEvent({ ...row, data: JSON.stringify({ id: 1, pad: 'B'.repeat(3000) }) }),
      rowEvent({ ...row, op: 'UPDATE' }),
      rowEvent({ ...row, op: 'UPDATE' }),
      rowEvent({ key: '{"id":2}' }),
    ];
    const err = await sendError(target, batch);
    assert.ok(err instanceof RetriableError && !(err instanceof PermanentError), String(err));
    assert.match(err.message, /10077/);
    const ids = async (): Promise<string[]> => (await admin.read(s.stream, `${s.prefix}.public.>`)).map((m) => m.headers['Nats-Msg-Id']);
    assert.deepEqual(await ids(), [batch[3].id], "nothing of row 1 ahead of its refused event; row 2's stored");
    await admin.jsm.streams.purge(s.stream, { filter: `${s.prefix}.junk` });
    await target.send(batch, never);
    assert.deepEqual(await ids(), [batch[3].id, batch[0].id, batch[1].id, batch[2].id], "row 1's events in their order, row 2's stored once");
  });

  test('a subject with spaces, an empty token or a wildcard token: PermanentError per event, nothing of it stored, the rest goes', async (t) => {
    const { sink: target, stream } = await declared(t);
    const spaced = rowEvent({ table: 'my table' });
    const wildcard = rowEvent({ table: '*' });
    const empty = rowEvent({ table: '' });
    const good = rowEvent();
    const err = await sendError(target, [spaced, good, wildcard, empty]);
    assert.ok(err instanceof PermanentError, String(err));
    assert.deepEqual(err.failedIds, [spaced.id, wildcard.id, empty.id]);
    assert.match(err.message, /contains whitespace/);
    assert.deepEqual(
      (await admin.read(stream)).map((m) => m.headers['Nats-Msg-Id']),
      [good.id],
    );
  });

  test('stream given with declare: false and it does not exist: connect fails (RetriableError), the sink stays not ready', async (t) => {
    const err = await connectError(sink(t, { stream: `missing_${tag()}` }));
    assert.equal(err.code, NATS_UNAVAILABLE);
    assert.match(err.message, /does not exist \(declare is false\)/);
  });

  test("declare: true over subjects another stream already holds: connect fails with the server's reason", async (t) => {
    const other = scope();
    await admin.createStream(other.stream, [`${other.prefix}.*.*.*`]);
    t.after(() => admin.deleteStream(other.stream));
    const err = await connectError(
      sink(t, { stream: `clash_${tag()}`, declare: true, subject: other.subject, channel_subject: `${other.prefix}.c.{channel}` }),
    );
    assert.match(err.message, /cannot create stream .*overlap/i);
  });

  test('a server without JetStream: connect fails (RetriableError) and says so', async (t) => {
    const server = await PrivateNatsServer.start('', { jetstream: false });
    t.after(() => server.stop());
    const err = await connectError(sink(t, { url: `nats://${server.address}` }));
    assert.match(err.message, /JetStream did not answer: not enabled/);
  });

  test('nothing listens on the port: connect fails (RetriableError)', async (t) => {
    const err = await connectError(sink(t, { url: 'nats://127.0.0.1:1' }));
    assert.match(err.message, /connection refused/);
  });
});

describe('nats sink: auth on a private nats-server', () => {
  const PASSWORD = 'n4ts-pw/secret';
  const TOKEN = 'n4ts-token-secret';
  let passwordServer: PrivateNatsServer;
  let tokenServer: PrivateNatsServer;

  before(async () => {
    passwordServer = await PrivateNatsServer.start(
      `authorization { users = [ { user: bridge, password: "${PASSWORD}", permissions: { publish: { deny: ["denied.>"] } } } ] }`,
    );
    tokenServer = await PrivateNatsServer.start(`authorization { token: "${TOKEN}" }`);
  });
  after(async () => {
    await passwordServer?.stop();
    await tokenServer?.stop();
  });

  /** Connects with `raw`, sends one event and reads it back from a stream on that server. */
  async function deliversThrough(
    t: TestContext,
    server: { address: string },
    adminOptions: Record<string, unknown>,
    raw: Record<string, unknown>,
  ): Promise<void> {
    const serverAdmin = await NatsAdmin.connect({ servers: server.address, ...adminOptions });
    t.after(() => serverAdmin.close());
    const s = scope();
    const target = sink(t, {
      url: `nats://${server.address}`,
      stream: s.stream,
      declare: true,
      subject: s.subject,
      channel_subject: s.channel_subject,
      ...raw,
    });
    await target.connect(never);
    const event = rowEvent();
    await target.send([event], never);
    assert.deepEqual(
      (await serverAdmin.read(s.stream)).map((m) => m.headers['Nats-Msg-Id']),
      [event.id],
    );
  }

  test('user/password keys', (t) => deliversThrough(t, passwordServer, { user: 'bridge', pass: PASSWORD }, { user: 'bridge', password: PASSWORD }));

  test('user:password in the URL', (t) =>
    deliversThrough(
      t,
      passwordServer,
      { user: 'bridge', pass: PASSWORD },
      { url: `nats://bridge:${encodeURIComponent(PASSWORD)}@${passwordServer.address}` },
    ));

  test('token key, and the token in the URL', async (t) => {
    await deliversThrough(t, tokenServer, { token: TOKEN }, { token: TOKEN });
    await deliversThrough(t, tokenServer, { token: TOKEN }, { url: `nats://${TOKEN}@${tokenServer.address}` });
  });

  test('wrong password, missing password, wrong token: connect fails (RetriableError, Authorization Violation), nothing secret in the message', async (t) => {
    for (const [server, raw] of [
      [passwordServer, { user: 'bridge', password: 'wrong-password-secret' }],
      [passwordServer, {}],
      [tokenServer, { token: 'wrong-token-secret' }],
    ] as const) {
      const err = await connectError(sink(t, { url: `nats://${server.address}`, ...raw }));
      assert.equal(err.code, NATS_UNAVAILABLE);
      assert.match(err.message, /Authorization Violation/i);
      assert.doesNotMatch(err.message, /secret/);
    }
  });

  test('publish not permitted for the subject: PermanentError (Permissions Violation), the connection stays usable', async (t) => {
    const serverAdmin = await NatsAdmin.connect({ servers: passwordServer.address, user: 'bridge', pass: PASSWORD });
    t.after(() => serverAdmin.close());
    const s = scope();
    await serverAdmin.createStream(s.stream, ['denied.>', `${s.prefix}.>`]);
    const target = sink(t, {
      url: `nats://${passwordServer.address}`,
      user: 'bridge',
      password: PASSWORD,
      subject: 'denied.{table}',
      channel_subject: `${s.prefix}.{channel}`,
    });
    await target.connect(never);
    const refused = rowEvent();
    const allowed = channelEvent();
    const err = await sendError(target, [refused, allowed]);
    assert.ok(err instanceof PermanentError, String(err));
    assert.deepEqual(err.failedIds, [refused.id]);
    assert.match(err.message, /Permissions Violation for Publish/);
    assert.ok(target.isReady());
    assert.deepEqual(
      (await serverAdmin.read(s.stream)).map((m) => m.headers['Nats-Msg-Id']),
      [allowed.id],
    );
  });

  test('creds file (operator mode: user JWT + NKey seed); a creds file of an unknown account is refused', async (t) => {
    const setup = await operatorSetup();
    const server = await PrivateNatsServer.start(setup.serverConfig);
    t.after(() => server.stop());
    const creds = server.file('bridge.creds', setup.creds);
    await deliversThrough(
      t,
      server,
      { authenticator: (await import('@nats-io/transport-node')).credsAuthenticator(new TextEncoder().encode(setup.creds)) },
      { creds },
    );
    const err = await connectError(sink(t, { url: `nats://${server.address}`, creds: server.file('stranger.creds', setup.strangerCreds) }));
    assert.match(err.message, /Authorization Violation/i);
    for (const secret of setup.secretLines) assert.ok(!err.message.includes(secret));
  });

  test('TLS: tls.ca_file against a server requiring TLS, and a tls:// URL; without the CA the certificate is refused', async (t) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'pgbridge-nats-tls-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const files = makeTlsFiles(dir);
    const server = await PrivateNatsServer.start(tlsServerConfig(files));
    t.after(() => server.stop());
    const adminTls = { tls: { caFile: files.caFile } };
    await deliversThrough(t, server, adminTls, { tls: { ca_file: files.caFile } });
    await deliversThrough(t, server, adminTls, { url: `tls://${server.address}`, tls: { ca_file: files.caFile } });
    const err = await connectError(sink(t, { url: `tls://${server.address}` }));
    assert.match(err.message, /certificate/i);
  });
});
