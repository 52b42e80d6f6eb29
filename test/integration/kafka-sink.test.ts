/**
 * The Kafka sink against a real Kafka-protocol broker: $KAFKA_BROKERS, or
 * librdkafka's mock cluster through kcat (see test/support/kafka.ts). Every
 * assertion is on what a consumer read back from the brokers.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import { PermanentError, RetriableError } from '../../src/errors.js';
import type { BridgeEvent } from '../../src/event.js';
import { ackLevel, brokerList, checkKafkaConfig, kafkaSecrets, type KafkaSinkConfig } from '../../src/sinks/kafka/config.js';
import { kafkaDescriptor } from '../../src/sinks/kafka/descriptor.js';
import { KafkaSink } from '../../src/sinks/kafka/sink.js';
import { cloudEventAttributesOf, cloudEventDataBody, pgbridgeBody, skorBody } from '../support/contract-bodies.js';
import { channelEvent, ODD_SUBJECTS, oddlyNamedRows, rowEvent } from '../support/events.js';
import { sinkConfigKeys } from '../support/sink-config.js';
import { forward, freePort } from '../support/tcp.js';
import { consumeMessages, createTopic, kafkaBrokers, readTopic, startMockCluster, type ReceivedMessage } from '../support/kafka.js';

const run = `r${Date.now().toString(36)}`;
const formatContext = { database: 'shop' };
const never = new AbortController().signal;
const logLines: string[] = [];
const logger = pino({ level: 'warn' }, { write: (line: string) => void logLines.push(line) });

let brokers: string[];
const open: KafkaSink[] = [];

/** A kafka sink config through the type's schema (defaults applied; check() left to the config tests). */
function config(overrides: Partial<KafkaSinkConfig> = {}): KafkaSinkConfig {
  const raw = {
    name: 'kafka',
    type: 'kafka',
    max_in_flight: 1,
    retry: { initial_ms: 10, max_ms: 10, max_attempts: 1 },
    brokers,
    client_id: 'pgbridge-test',
    timeout_ms: 10_000,
    ...overrides,
  };
  return sinkConfigKeys(raw) as unknown as KafkaSinkConfig;
}

async function connected(overrides: Partial<KafkaSinkConfig> = {}): Promise<KafkaSink> {
  const sink = new KafkaSink(config(overrides), { logger, format: formatContext });
  assert.ok(sink instanceof KafkaSink);
  open.push(sink);
  await sink.connect(never);
  return sink;
}

const byId = (messages: readonly ReceivedMessage[], id: string): ReceivedMessage => {
  const found = messages.find((m) => m.headers['pgbridge-id'] === id);
  assert.ok(found, `no message with pgbridge-id ${id}`);
  return found;
};

before(async () => {
  brokers = await kafkaBrokers();
});

after(async () => {
  await Promise.all(open.map((sink) => sink.close()));
});

describe('kafka sink', () => {
  test('value is exactly the CONTRACT §3.1 body, headers name id, op and table, key is the primary key', async () => {
    const sink = await connected();
    const table = `values_${run}`;
    const data = '{"id":9007199254740993,"price":12.50,"note":"é \\"quoted\\""}';
    const events = [
      rowEvent({ table, op: 'INSERT', data, old: null, key: '{"id":9007199254740993}' }),
      rowEvent({ table, op: 'UPDATE', data, old: '{"id":9007199254740993,"price":1}', key: '{"id":9007199254740993}' }),
      rowEvent({ table, op: 'DELETE', data, old: data, key: '{"id":9007199254740993}' }),
    ];
    await sink.send(events, never);

    const got = await readTopic(brokers, `public.${table}`, { atLeast: 3 });
    assert.equal(got.length, 3);
    assert.deepEqual(
      got.map((m) => m.value),
      events.map(pgbridgeBody),
    );
    assert.match(got[0].value ?? '', /"id":9007199254740993,/);
    for (const [i, event] of events.entries()) {
      assert.equal(got[i].key, '{"id":9007199254740993}');
      assert.deepEqual(got[i].headers, {
        'pgbridge-id': event.id,
        'pgbridge-op': event.kind === 'row' ? event.op : '',
        'pgbridge-table': `public.${table}`,
      });
    }
  });

  test("skor format: the value is skor's payload", async () => {
    const sink = await connected({ format: 'skor' });
    const event = rowEvent({ table: `skor_${run}` });
    await sink.send([event], never);
    const [got] = await readTopic(brokers, `public.skor_${run}`, { atLeast: 1 });
    assert.equal(got.value, skorBody(event));
    assert.equal(got.value, `{"table":"skor_${run}","schema":"public","op":"INSERT","data":${event.kind === 'row' ? event.data : ''}}`);
  });

  test('keys: single primary key, composite key, none for a table without one and for channel events', async () => {
    const sink = await connected({ topic: `keys_${run}` });
    const single = rowEvent({ key: '{"id":7}' });
    const composite = rowEvent({ key: '{"id":1,"region":"eu"}' });
    const keyless = rowEvent({ table: 'log', key: null });
    // A fixed template applies to channel events as written: same topic as the rows.
    const channel = channelEvent({ channel: `keys_${run}_jobs` });
    await sink.send([single, composite, keyless, channel], never);

    const got = await readTopic(brokers, `keys_${run}`, { atLeast: 4 });
    assert.equal(got.length, 4);
    assert.equal(byId(got, single.id).key, '{"id":7}');
    assert.equal(byId(got, composite.id).key, '{"id":1,"region":"eu"}');
    assert.equal(byId(got, keyless.id).key, null);
    assert.equal(byId(got, channel.id).key, null);
    assert.deepEqual(await readTopic(brokers, `keys_${run}_jobs`, { timeoutMs: 2000 }), [], 'nothing in the topic named after the channel');
  });

  test('a key template replaces the primary key', async () => {
    const sink = await connected({ topic: `keytpl_${run}`, key: '{schema}.{table}' });
    const event = rowEvent({ table: 'orders', key: '{"id":7}' });
    await sink.send([event], never);
    const [got] = await readTopic(brokers, `keytpl_${run}`, { atLeast: 1 });
    assert.equal(got.key, 'public.orders');
  });

  test('20 updates of one row land on one partition in order; key-less rows of a table keep their order too', async () => {
    const table = `order_${run}`;
    const topic = `public.${table}`;
    const partitions = await createTopic(brokers, topic, 3);
    assert.ok(partitions >= 3, `topic has ${partitions} partitions`);
    const sink = await connected();

    const row = Array.from({ length: 20 }, (_, i) => rowEvent({ table, op: 'UPDATE', key: '{"id":42}', data: `{"id":42,"version":${i}}` }));
    const others = Array.from({ length: 20 }, (_, i) => rowEvent({ table, key: `{"id":${1000 + i}}` }));
    const keyless = Array.from({ length: 10 }, (_, i) => rowEvent({ table, key: null, data: `{"n":${i}}` }));
    // Interleaved, in several sends, as the delivery runner would hand them over.
    const all = row.flatMap((event, i) => [event, others[i], ...(i < keyless.length ? [keyless[i]] : [])]);
    for (let i = 0; i < all.length; i += 7) await sink.send(all.slice(i, i + 7), never);

    const got = await consumeMessages(brokers, topic, all.length);
    assert.equal(got.length, all.length);
    const positions = (events: readonly BridgeEvent[]) => events.map((e) => byId(got, e.id));
    for (const [name, events] of [
      ['row 42', row],
      ['key-less rows', keyless],
    ] as const) {
      const received = positions(events);
      assert.equal(new Set(received.map((m) => m.partition)).size, 1, `${name} spread over several partitions`);
      const offsets = received.map((m) => m.offset);
      assert.deepEqual(
        offsets,
        [...offsets].sort((a, b) => a - b),
        `${name} out of order`,
      );
    }
    assert.deepEqual(
      positions(row).map((m) => m.value),
      row.map(pgbridgeBody),
    );
    // The other keys do spread: partitioning is real, not everything in one partition.
    assert.ok(new Set(positions(others).map((m) => m.partition)).size > 1, 'twenty keys all in one partition');
  });

  test('topic template: {schema}.{table} per table, {op}, and channel events to the topic named after the channel under a row template', async () => {
    const sink = await connected();
    const a = rowEvent({ schema: 'sales', table: `a_${run}` });
    const b = rowEvent({ schema: 'sales', table: `b_${run}` });
    const notice = channelEvent({ channel: `jobs_${run}`, payload: 'not json' });
    await sink.send([a, b, notice], never);

    const [gotA] = await readTopic(brokers, `sales.a_${run}`, { atLeast: 1 });
    const [gotB] = await readTopic(brokers, `sales.b_${run}`, { atLeast: 1 });
    const channelTopic = await readTopic(brokers, `jobs_${run}`, { atLeast: 1 });
    assert.equal(gotA.headers['pgbridge-id'], a.id);
    assert.equal(gotB.headers['pgbridge-id'], b.id);
    assert.equal(channelTopic.length, 1);
    assert.equal(channelTopic[0].value, pgbridgeBody(notice));
    assert.deepEqual(channelTopic[0].headers, { 'pgbridge-id': notice.id, 'pgbridge-op': 'NOTIFY', 'pgbridge-channel': `jobs_${run}` });

    const byOp = await connected({ topic: `ops_${run}.{table}.{op}` });
    const deleted = rowEvent({ table: 't', op: 'DELETE' });
    await byOp.send([deleted], never);
    const [gotDelete] = await readTopic(brokers, `ops_${run}.t.delete`, { atLeast: 1 });
    assert.equal(gotDelete.headers['pgbridge-id'], deleted.id);
  });

  test('cloudevents: binary mode, ce_* headers and the data object as value', async () => {
    const sink = await connected({ format: 'cloudevents', topic: `ce_${run}{channel}` });
    const row = rowEvent({ op: 'UPDATE', key: '{"id":9007199254740993,"region":"eu"}' });
    const keyless = rowEvent({ table: 'log', key: null });
    const notice = channelEvent({ channel: 'jobs', payload: '{"job":1}' });
    await sink.send([row, keyless, notice], never);

    const got = [...(await readTopic(brokers, `ce_${run}`, { atLeast: 2 })), ...(await readTopic(brokers, `ce_${run}jobs`, { atLeast: 1 }))];
    for (const event of [row, keyless, notice]) {
      const message = byId(got, event.id);
      const { datacontenttype, ...attributes } = cloudEventAttributesOf(event, formatContext.database);
      assert.equal(message.value, cloudEventDataBody(event));
      const ce = Object.fromEntries(Object.entries(message.headers).filter(([name]) => !name.startsWith('pgbridge-')));
      assert.deepEqual(ce, {
        ...Object.fromEntries(Object.entries(attributes).map(([name, value]) => [`ce_${name}`, value])),
        'content-type': datacontenttype,
      });
    }
    const rowMessage = byId(got, row.id);
    assert.equal(rowMessage.headers.ce_type, 'pgbridge.row.update');
    assert.equal(rowMessage.headers.ce_source, '/pgbridge/shop/public.orders');
    assert.equal(rowMessage.headers.ce_subject, '9007199254740993,eu');
    assert.equal(rowMessage.value, `{"data":${row.kind === 'row' ? row.data : ''},"old":${row.kind === 'row' ? row.old : ''}}`);
    assert.equal(byId(got, keyless.id).headers.ce_subject, undefined);
    assert.equal(byId(got, notice.id).headers.ce_type, 'pgbridge.notify');
    assert.equal(byId(got, notice.id).value, '{"job":1}');
  });

  test('headers carry names and keys as they are, UTF-8, as the Kafka binding says: a line break, %, spaces, Ω, U+FFFF', async () => {
    const sink = await connected({ format: 'cloudevents', topic: `odd_${run}` });
    const { broken, odd } = oddlyNamedRows();
    await sink.send([broken, odd], never);
    const got = await readTopic(brokers, `odd_${run}`, { atLeast: 2 });
    // source is a URI-reference, its names percent-encoded (CONTRACT §3.3); the header carries it as it is, not encoded again.
    for (const [event, subject, source] of [
      [broken, ODD_SUBJECTS[1], '/pgbridge/shop/public.nl%0Ax'],
      [odd, ODD_SUBJECTS[2], '/pgbridge/shop/m%C3%BCnchen.%20100%25%20%22q%22%20%CE%A9'],
    ] as const) {
      const message = byId(got, event.id);
      assert.equal(message.headers['pgbridge-table'], `${event.schema}.${event.table}`);
      assert.equal(message.headers.ce_subject, subject);
      assert.equal(message.headers.ce_source, source);
    }
  });

  test('acks 0 and gzip compression still deliver the exact bytes', async () => {
    const table = `gzip_${run}`;
    const sink = await connected({ acks: 0, compression: 'gzip' });
    const events = Array.from({ length: 5 }, () => rowEvent({ table, key: '{"id":1}' }));
    await sink.send(events, never);
    const got = await readTopic(brokers, `public.${table}`, { atLeast: 5 });
    assert.deepEqual(
      got.map((m) => m.value),
      events.map(pgbridgeBody),
    );
  });

  test('an event whose topic is not a legal Kafka name fails for good; the rest of the batch is delivered', async () => {
    const sink = await connected({ topic: `legal_${run}.{table}` });
    const good = rowEvent({ table: 'fine' });
    const bad = rowEvent({ table: 'has space' });
    const error = await sink.send([good, bad], never).then(
      () => assert.fail('send resolved'),
      (err: unknown) => err,
    );
    assert.ok(error instanceof PermanentError, `got ${String(error)}`);
    assert.deepEqual(error.failedIds, [bad.id]);
    assert.match(error.message, /has space/);
    const [got] = await readTopic(brokers, `legal_${run}.fine`, { atLeast: 1 });
    assert.equal(got.headers['pgbridge-id'], good.id);
    assert.equal(sink.isReady(), true);
  });

  test('unreachable brokers: connect and send reject with RetriableError; connect works once they are back', async () => {
    const port = await freePort();
    const sink = new KafkaSink(config({ brokers: [`127.0.0.1:${port}`], topic: `back_${run}` }), { logger, format: formatContext });
    open.push(sink);

    await assert.rejects(sink.connect(never), RetriableError);
    assert.equal(sink.isReady(), false);
    await assert.rejects(sink.send([rowEvent()], never), (err: unknown) => err instanceof RetriableError && /not connected/.test(err.message));

    // The bootstrap address comes back (a forwarder to a live broker): a new connect() succeeds.
    const forwarder = await forward(port, brokers[0]);
    try {
      await sink.connect(never);
      assert.equal(sink.isReady(), true);
      const event = rowEvent();
      await sink.send([event], never);
      const [got] = await readTopic(brokers, `back_${run}`, { atLeast: 1 });
      assert.equal(got.headers['pgbridge-id'], event.id);
    } finally {
      forwarder.close();
    }
  });

  test('brokers gone after connect: send rejects with RetriableError and the sink stops being ready', async (t) => {
    const cluster = await startMockCluster();
    t.after(() => cluster.stop());
    const sink = await connected({ brokers: cluster.brokers, topic: `gone_${run}` });
    await sink.send([rowEvent()], never);
    assert.equal(sink.isReady(), true);

    await cluster.stop();
    await assert.rejects(sink.send([rowEvent()], never), RetriableError);
    assert.equal(sink.isReady(), false);
    await assert.rejects(sink.send([rowEvent()], never), /not connected/);
    await assert.rejects(sink.connect(never), RetriableError);
  });

  test('close() while connect() is under way: the connect rejects and the sink stays closed', async () => {
    const sink = new KafkaSink(config(), { logger, format: formatContext });
    open.push(sink);
    const connecting = sink.connect(never);
    await sink.close();
    await assert.rejects(connecting, RetriableError);
    assert.equal(sink.isReady(), false);
    await assert.rejects(sink.send([rowEvent()], never), /not connected/);
  });

  test('an abort rejects the send with RetriableError at once, also mid-send', async () => {
    const sink = await connected({ topic: `abort_${run}` });
    await assert.rejects(sink.send([rowEvent()], AbortSignal.abort()), /aborted/);
    // Aborted while kafkajs is still sending (it fetches metadata for a new topic first): that send goes on
    // behind the caller's back, and must not reopen connections after close().
    const controller = new AbortController();
    const sending = sink.send([rowEvent({ table: `abort2_${run}` })], controller.signal);
    controller.abort();
    await assert.rejects(sending, (err: unknown) => err instanceof RetriableError && /aborted/.test(err.message));
    await sink.close();
    assert.equal(sink.isReady(), false);
  });

  test('the sasl password appears in no log line and no error', async () => {
    const password = `pw-${run}-secret`;
    const sasl = { mechanism: 'plain' as const, username: 'bridge', password };
    const sink = new KafkaSink(config({ sasl }), { logger, format: formatContext });
    open.push(sink);
    // The mock cluster has no SASL, so this fails; a real broker with wrong credentials fails the same way.
    const error = await sink.connect(never).then(
      () => undefined,
      (err: unknown) => err,
    );
    if (error !== undefined) {
      assert.ok(error instanceof RetriableError);
      assert.ok(!JSON.stringify(error, Object.getOwnPropertyNames(error)).includes(password));
      assert.ok(!String(error.cause).includes(password));
    }
    assert.ok(!logLines.join('').includes(password), 'password in the log');
    assert.deepEqual(kafkaDescriptor.secrets?.(config({ sasl })), [password]);
  });
});

describe('kafka sink config', () => {
  test('checks templates, broker addresses and sasl; acks and broker lists are normalised', () => {
    assert.deepEqual(checkKafkaConfig(config()), []);
    assert.deepEqual(
      checkKafkaConfig(config({ topic: '{db}.{table}', key: '{pk}', brokers: ['kafka:9092', 'nohost'] })).map((p) => p.path),
      ['brokers', 'topic', 'key'],
    );
    const sasl = { mechanism: 'gssapi', username: '', password: 'x', extra: 1 } as unknown as KafkaSinkConfig['sasl'];
    assert.deepEqual(
      checkKafkaConfig(config({ sasl })).map((p) => p.path),
      ['sasl.mechanism', 'sasl.username', 'sasl.extra'],
    );
    assert.deepEqual(brokerList(['a:1,b:2', ' c:3 ']), ['a:1', 'b:2', 'c:3']);
    assert.deepEqual((['all', -1, '-1', 1, '1', 0, '0'] as const).map(ackLevel), [-1, -1, -1, 1, 1, 0, 0]);
    assert.deepEqual(kafkaSecrets(config()), []);
  });
});
