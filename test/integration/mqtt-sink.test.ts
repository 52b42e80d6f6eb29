/**
 * The MQTT sink against real Mosquitto brokers of the test's own: what the
 * broker answers (ACL refusal, wildcard topic, packet too large, bad
 * credentials, quota exceeded) and what the sink makes of it, retried or
 * dead-lettered, checked at a subscriber; CloudEvents read back with the SDK;
 * and no password anywhere a user can see.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { HTTP, type CloudEvent } from 'cloudevents';
import mqtt from 'mqtt';
import { pino } from 'pino';
import { PermanentError, RetriableError } from '../../src/errors.js';
import type { BridgeEvent } from '../../src/event.js';
import { fromPublishReasonCode } from '../../src/sinks/mqtt/errors.js';
import { publishPacketBytes, toMqttMessage } from '../../src/sinks/mqtt/message.js';
import type { Sink } from '../../src/sinks/sink.js';
import { cli, installAndRun, waitFor, writeConfig } from '../support/bridge.js';
import { binaryCloudEventOf } from '../support/binary-cloud-event.js';
import { channelEvent, ODD_SUBJECTS, oddlyNamedRows, rowEvent } from '../support/events.js';
import { MosquittoBroker, MqttSubscriber, SUBSCRIBER_ACL, type BrokerUser } from '../support/mqtt.js';
import { createTestDatabase } from '../support/pg.js';
import { sendError, sinkFromConfig } from '../support/sink-config.js';
import { closedPort } from './outbox-harness.js';

const never = new AbortController().signal;
const MAX_PACKET = 4096;
const PASSWORD = 'mq:tt/p@ss w0rd-secret';
const WRONG_PASSWORD = 'wr0ng-mqtt-secret';
const publisher: BrokerUser = { name: 'bridge', password: PASSWORD, acl: ['topic deny pgbridge/public/acl_refused/#', 'topic readwrite #'] };
const reader: BrokerUser = { name: 'reader', password: 'reader-pw', acl: SUBSCRIBER_ACL };
const broker = new MosquittoBroker({ users: [publisher, reader], maxPacketSize: MAX_PACKET });
const logLines: string[] = [];
const logger = pino({ level: 'info' }, { write: (line: string) => void logLines.push(line) });
const sinks: Sink[] = [];

before(() => broker.start());
after(async () => {
  await Promise.all(sinks.map((s) => s.close()));
  await broker.dispose();
});

function sink(options: Record<string, unknown> = {}): Sink {
  const created = sinkFromConfig(
    { name: 'mq', type: 'mqtt', url: broker.urlFor(publisher), connect_timeout_ms: 2000, ...options },
    { logger, format: { database: 'shop' } },
  );
  sinks.push(created);
  return created;
}

async function subscriber(filters: string[]): Promise<MqttSubscriber> {
  const s = new MqttSubscriber({ url: broker.url, username: reader.name, password: reader.password, filters, qos: 2 });
  await s.start();
  return s;
}

const idsOf = (bodies: readonly { body: string }[]): string[] => bodies.map((m) => (JSON.parse(m.body) as { id: string }).id);

/** A raw MQTT.js client doing what the sink refuses to do, to see the broker's own answer. */
async function rawPublish(
  topic: string,
  payload: string | Buffer,
  properties: Record<string, unknown> = {},
): Promise<{ error?: string; disconnectReason?: number }> {
  const client = await mqtt.connectAsync(broker.url, {
    protocolVersion: 5,
    reconnectPeriod: 0,
    username: publisher.name,
    password: publisher.password,
  });
  let disconnectReason: number | undefined;
  client.on('disconnect', (packet) => (disconnectReason = packet.reasonCode));
  client.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
  const outcome = await Promise.race([
    client.publishAsync(topic, payload, { qos: 1, properties }).then(
      () => ({}),
      (err: Error) => ({ error: err.message }),
    ),
    closed.then(() => ({ error: 'connection closed' })),
  ]);
  client.end(true);
  return { ...outcome, disconnectReason };
}

describe('mqtt sink against Mosquitto', () => {
  test('config: qos 0 and wildcards in the topic template are config errors (exit 2, key path named)', async () => {
    const base = { postgres: { url: 'postgres://127.0.0.1/x' }, capture: ['public.items'] };
    const qos0 = await cli(['check', '-c', writeConfig({ ...base, sinks: [{ name: 'm', type: 'mqtt', url: 'mqtt://127.0.0.1:1883', qos: 0 }] })]);
    assert.equal(qos0.code, 2);
    assert.match(qos0.stderr, /sinks\[0\]\.qos: 0 is refused: QoS 0 has no acknowledgement, so events can be lost/);
    assert.doesNotMatch(qos0.stderr, /at .*\.js:\d+/, 'no stack trace');
    const wildcard = await cli([
      'check',
      '-c',
      writeConfig({ ...base, sinks: [{ name: 'm', type: 'mqtt', url: 'mqtt://127.0.0.1:1883', topic: 'events/{table}/#' }] }),
    ]);
    assert.equal(wildcard.code, 2);
    assert.match(wildcard.stderr, /sinks\[0\]\.topic: must not contain \+ or #/);
    const scheme = await cli(['check', '-c', writeConfig({ ...base, sinks: [{ name: 'm', type: 'mqtt', url: 'http://127.0.0.1:1883' }] })]);
    assert.equal(scheme.code, 2);
    assert.match(scheme.stderr, /sinks\[0\]\.url: must use mqtt:\/\/ or mqtts:\/\//);
  });

  test('a topic the broker ACL refuses: PUBACK 0x87 at QoS 1 and PUBREC 0x87 at QoS 2, permanent for that event only', async () => {
    for (const qos of [1, 2] as const) {
      const table = `acl_ok_${qos}`;
      const sub = await subscriber([`pgbridge/public/${table}/+`]);
      const mq = sink({ qos });
      await mq.connect(never);
      const good = [rowEvent({ table }), rowEvent({ table })];
      const refused = rowEvent({ table: 'acl_refused' });
      const err = await mq.send([good[0], refused, good[1]], never).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(err instanceof PermanentError, `qos ${qos}: ${String(err)}`);
      assert.deepEqual(err.failedIds, [refused.id]);
      assert.match(err.message, /not authorized \(0x87\)/);
      assert.ok(mq.isReady(), 'the connection survives the refusal');
      assert.deepEqual(
        idsOf(await sub.settled()),
        good.map((e) => e.id),
      );
      await sub.stop();
    }
  });

  test('a wildcard in the rendered topic: the broker would drop the connection (0x82), so the sink refuses the event itself', async () => {
    const raw = await rawPublish('pgbridge/public/a#b/insert', 'x');
    assert.equal(raw.disconnectReason, 0x82, `the broker's answer to a wildcard topic: ${JSON.stringify(raw)}`);

    const sub = await subscriber(['pgbridge/public/wild_ok/+']);
    const mq = sink();
    await mq.connect(never);
    const good = [rowEvent({ table: 'wild_ok' }), rowEvent({ table: 'wild_ok' })];
    const wild = rowEvent({ table: 'a#b' });
    const err = await mq.send([good[0], wild, good[1]], never).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof PermanentError, String(err));
    assert.deepEqual(err.failedIds, [wild.id]);
    assert.match(err.message, /wildcard/);
    assert.ok(mq.isReady());
    assert.deepEqual(
      idsOf(await sub.settled()),
      good.map((e) => e.id),
    );
    await sub.stop();
  });

  test('a topic with a control character or a noncharacter: the broker would drop the connection (Malformed UTF-8), so the sink refuses the event itself', async () => {
    const raw = await rawPublish('pgbridge/public/nl\nx/insert', 'x');
    assert.equal(raw.error, 'connection closed', `the broker's answer to a line break in a topic: ${JSON.stringify(raw)}`);

    const sub = await subscriber(['pgbridge/public/ctl_ok/+']);
    const mq = sink();
    await mq.connect(never);
    const broken = rowEvent({ table: 'nl\nx' });
    const nonCharacter = rowEvent({ table: 'x\uffff' });
    const batch = [rowEvent({ table: 'ctl_ok' }), broken, nonCharacter, rowEvent({ table: 'ctl_ok' })];
    const err = await sendError(mq, batch);
    assert.ok(err instanceof PermanentError, String(err));
    assert.deepEqual(err.failedIds, [broken.id, nonCharacter.id]);
    assert.match(err.message, /control character or a Unicode noncharacter/);
    assert.ok(mq.isReady(), 'the connection was not dropped');
    assert.deepEqual(idsOf(await sub.settled()), [batch[0].id, batch[3].id]);
    await sub.stop();
  });

  test('user properties: what an MQTT string cannot hold (control characters, noncharacters) and % are percent-encoded, the rest as it is; a name or key with a line break travels with its batch', async () => {
    for (const format of ['pgbridge', 'cloudevents']) {
      const topic = `odd_props/${format}`;
      const sub = await subscriber([topic]);
      const mq = sink({ topic, format });
      await mq.connect(never);
      const { broken, odd } = oddlyNamedRows();
      const batch = [rowEvent(), broken, odd, rowEvent()];
      await mq.send(batch, never);
      assert.ok(mq.isReady(), `format ${format}: the connection was not dropped`);

      const received = await sub.settled();
      const properties = received.map((m) => m.userProperties);
      assert.deepEqual(
        properties.map((p) => p['pgbridge-id']),
        batch.map((e) => e.id),
        `format ${format}: the whole batch arrived`,
      );
      // Written out by hand: the UTF-8 bytes of each such character as %XX; ü, é, Ω, spaces and " as they are.
      assert.equal(properties[1]['pgbridge-table'], 'public.nl%0Ax');
      assert.equal(properties[2]['pgbridge-table'], 'münchen. 100%25 "q" Ω');
      for (const i of [1, 2]) {
        assert.equal(decodeURIComponent(properties[i]['pgbridge-table']), `${batch[i].schema}.${batch[i].table}`);
        const headers = { ...properties[i], 'content-type': received[i].contentType ?? '' };
        if (format === 'cloudevents') assert.equal(binaryCloudEventOf(headers, received[i].body).subject, ODD_SUBJECTS[i]);
      }
      if (format === 'cloudevents') {
        assert.equal(properties[1]['ce-subject'], 'a%0D%0A%C2%85b%EF%BF%BF');
        assert.equal(properties[2]['ce-subject'], 'Ω-key é');
        assert.equal(properties[2]['ce-source'], '/pgbridge/shop/m%25C3%25BCnchen.%2520100%2525%2520%2522q%2522%2520%25CE%25A9');
      }
      await sub.stop();
    }
  });

  test("an event over the broker's Maximum Packet Size: refused before sending (the broker would disconnect, 0x95); the size is exact", async () => {
    const sub = await subscriber(['pgbridge/public/big/+']);
    const mq = sink();
    await mq.connect(never);
    // An event whose PUBLISH packet is exactly `bytes` long.
    const sized = (bytes: number): BridgeEvent => {
      const probe = rowEvent({ table: 'big', data: '{"pad":""}' });
      const overhead = publishPacketBytes(
        toMqttMessage(probe, { topic: 'pgbridge/{schema}/{table}/{op}', format: 'pgbridge' }, { database: 'shop' }),
      );
      const event = { ...probe, data: `{"pad":"${'x'.repeat(bytes - overhead)}"}` };
      assert.equal(
        publishPacketBytes(toMqttMessage(event, { topic: 'pgbridge/{schema}/{table}/{op}', format: 'pgbridge' }, { database: 'shop' })),
        bytes,
      );
      return event;
    };
    const atLimit = sized(MAX_PACKET);
    const over = sized(MAX_PACKET + 1);
    const err = await mq.send([atLimit, over], never).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof PermanentError, String(err));
    assert.deepEqual(err.failedIds, [over.id]);
    assert.match(err.message, new RegExp(`over the broker's Maximum Packet Size of ${MAX_PACKET} bytes`));
    assert.ok(mq.isReady());
    assert.deepEqual(idsOf(await sub.settled()), [atLimit.id], 'the event of exactly the maximum size arrived');
    await sub.stop();

    // The broker's own answer to a client that does not check: it cuts the connection. (Mosquitto 2.0.11
    // leaves the fixed header out of its count, so it lets through up to 3 bytes more than MQTT 5 allows.)
    const message = toMqttMessage(sized(MAX_PACKET + 64), { topic: 'pgbridge/{schema}/{table}/{op}', format: 'pgbridge' }, { database: 'shop' });
    const raw = await rawPublish(message.topic, message.payload, { ...message.properties, userProperties: { ...message.properties.userProperties } });
    assert.equal(raw.disconnectReason, 0x95, JSON.stringify(raw));
  });

  test('QoS 2 beyond the Receive Maximum gets 0x97 quota exceeded from the broker (retriable); the sink stays within it', async () => {
    const client = await mqtt.connectAsync(broker.url, {
      protocolVersion: 5,
      reconnectPeriod: 0,
      username: publisher.name,
      password: publisher.password,
    });
    const results = await Promise.allSettled(Array.from({ length: 200 }, () => client.publishAsync('pgbridge/public/quota/raw', 'x', { qos: 2 })));
    await client.endAsync();
    const codes = results.flatMap((r) => (r.status === 'rejected' ? [(r.reason as { code?: number }).code] : []));
    assert.ok(codes.length > 0 && codes.every((c) => c === 0x97), `the broker's answers: ${JSON.stringify([...new Set(codes)])}`);
    assert.ok(fromPublishReasonCode(0x97, 't') instanceof RetriableError);

    const sub = await subscriber(['pgbridge/public/quota/+']);
    const mq = sink({ qos: 2, batch: { max_events: 1000 } });
    await mq.connect(never);
    const events = Array.from({ length: 300 }, () => rowEvent({ table: 'quota' }));
    await mq.send(events, never);
    assert.deepEqual(
      idsOf(await sub.settled()),
      events.map((e) => e.id),
      'all 300, once each, in order',
    );
    await sub.stop();
  });

  test('bad credentials: CONNACK refusal, retriable (an operator fixes it), the password in no message', async () => {
    const mq = sink({ password: WRONG_PASSWORD });
    const err = await mq.connect(never).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof RetriableError && !(err instanceof PermanentError), String(err));
    assert.match(err.message, /broker refused the connection: (not authorized \(0x87\)|bad user name or password \(0x86\))/);
    assert.ok(!mq.isReady());
    for (const secret of [WRONG_PASSWORD, PASSWORD, encodeURIComponent(PASSWORD)]) assert.ok(!err.message.includes(secret));
  });

  test('cloudevents: ce-* user properties and the payload parse and validate with the CloudEvents SDK', async () => {
    const sub = await subscriber(['pgbridge/public/ce_rows/+', 'ce_jobs']);
    const mq = sink({ format: 'cloudevents' });
    await mq.connect(never);
    const row = rowEvent({ table: 'ce_rows', op: 'UPDATE', key: '{"id":7}', data: '{"id":7,"n":9007199254740993}' });
    const notice = channelEvent({ channel: 'ce_jobs', payload: 'plain text' });
    await mq.send([row, notice], never);
    const received = await sub.settled();
    assert.equal(received.length, 2);
    for (const message of received) {
      assert.equal(message.contentType, 'application/json');
      const parsed = HTTP.toEvent({ headers: { ...message.userProperties, 'content-type': message.contentType ?? '' }, body: message.body });
      const event = (Array.isArray(parsed) ? parsed[0] : parsed) as CloudEvent;
      assert.equal(event.validate(), true);
      if (event.id === row.id) {
        assert.equal(event.type, 'pgbridge.row.update');
        assert.equal(event.source, '/pgbridge/shop/public.ce_rows');
        assert.equal(event.subject, '7');
        assert.equal(event.time, new Date(row.ts).toISOString());
        assert.match(message.body, /"n":9007199254740993/, 'the payload keeps every digit');
      } else {
        assert.equal(event.id, notice.id);
        assert.equal(event.type, 'pgbridge.notify');
        assert.equal(event.source, '/pgbridge/shop/channel/ce_jobs');
        assert.equal(event.data, 'plain text');
      }
    }
    await sub.stop();
  });

  test('pgbridge run: refused events are dead-lettered, the rest delivered; no password in logs, dead letters or /metrics', async (t) => {
    const db = await createTestDatabase('pgbridge_mqtt');
    t.after(() => db.drop());
    await db.query('CREATE TABLE public.items (id int PRIMARY KEY)');
    await db.query('CREATE TABLE public.acl_refused (id int PRIMARY KEY)');
    const httpPort = await closedPort();
    const sub = await subscriber(['pgbridge/public/items/+']);
    t.after(() => sub.stop());
    const file = writeConfig({
      postgres: { url: db.url },
      capture: ['public.items', 'public.acl_refused'],
      sinks: [
        { name: 'broker', type: 'mqtt', url: broker.urlFor(publisher), qos: 2, retry: { initial_ms: 50, max_ms: 500 } },
        {
          name: 'locked-out',
          type: 'mqtt',
          url: broker.url,
          username: publisher.name,
          password: WRONG_PASSWORD,
          connect_timeout_ms: 1000,
          retry: { initial_ms: 50, max_ms: 500 },
        },
      ],
      routes: [
        { from: { table: 'public.items' }, to: ['broker', 'locked-out'] },
        { from: { table: 'public.acl_refused' }, to: ['broker'] },
      ],
      http: { port: httpPort },
    });
    const bridge = await installAndRun(file);
    t.after(() => bridge.kill('SIGKILL'));
    await db.query('INSERT INTO public.items SELECT g FROM generate_series(1, 20) g');
    await db.query('INSERT INTO public.acl_refused SELECT g FROM generate_series(1, 3) g');
    await waitFor(async () => (await sub.settled()).length >= 20, 30_000, '20 items at the subscriber');
    await waitFor(async () => (await db.query('SELECT 1 FROM pgbridge.dead_letters')).rowCount === 3, 30_000, '3 dead letters');
    const items = (await sub.settled()).map((m) => JSON.parse(m.body) as { table: string; data: { id: number } });
    assert.deepEqual(
      items.map((e) => e.data.id).sort((a, b) => a - b),
      Array.from({ length: 20 }, (_, i) => i + 1),
    );
    const { rows } = await db.query<{ sink: string; error: string }>('SELECT sink, error FROM pgbridge.dead_letters');
    assert.ok(
      rows.every((r) => r.sink === 'broker' && /not authorized \(0x87\)/.test(r.error)),
      JSON.stringify(rows),
    );
    await waitFor(
      () => bridge.logs().some((e) => String(e.err ?? '').includes('broker refused the connection')),
      15_000,
      'the locked-out sink to log its refusal',
    );
    const metrics = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
    const ready = await (await fetch(`http://127.0.0.1:${httpPort}/readyz`)).text();
    const listed = await cli(['dead-letters', 'list', '-c', file]);
    for (const [where, text] of [
      ['logs', bridge.logLines.join('\n')],
      ['dead letters', JSON.stringify(rows)],
      ['/metrics', metrics],
      ['/readyz', ready],
      ['dead-letters list', listed.stdout + listed.stderr],
    ]) {
      assert.ok(text.length > 0, `${where}: nothing to look at`);
      for (const secret of [PASSWORD, encodeURIComponent(PASSWORD), WRONG_PASSWORD]) assert.ok(!text.includes(secret), `${where} holds a password`);
    }
  });
});
