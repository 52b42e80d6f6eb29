import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { after, before, describe, test, type TestContext } from 'node:test';
import type { Channel, ConsumeMessage } from 'amqplib';
import { pino } from 'pino';
import { PermanentError, RetriableError } from '../../src/errors.js';
import type { BridgeEvent } from '../../src/event.js';
import type { FormatName } from '../../src/formats/index.js';
import type { AmqpConfig, AmqpSinkConfig } from '../../src/sinks/amqp/config.js';
import { amqpDescriptor } from '../../src/sinks/amqp/descriptor.js';
import { AmqpSink } from '../../src/sinks/amqp/sink.js';
import type { SinkClient, SinkContext } from '../../src/sinks/sink.js';
import { sinkConfigKeys } from '../support/sink-config.js';
import { AMQP_URL, AmqpAdmin, uniqueName } from '../support/amqp.js';
import { cloudEventDataBody, pgbridgeBody } from '../support/contract-bodies.js';
import { channelEvent, rowEvent } from '../support/events.js';

const BROKER = AMQP_URL;
const ctx: SinkContext = { logger: pino({ level: 'silent' }), format: { database: 'testdb' } };
const never = new AbortController().signal;

/** A sink config as the loader would build it: this sink's keys through its own schema (so defaults apply), plus the common ones. */
function sinkConfig(own: Partial<AmqpConfig> & { max_batch?: number }, format: FormatName = 'pgbridge', name = 'amqp-test'): AmqpSinkConfig {
  return sinkConfigKeys({
    url: BROKER,
    ...own,
    name,
    type: 'amqp',
    format,
    max_in_flight: 2,
    retry: { initial_ms: 100, max_ms: 1000, max_attempts: 0 },
  }) as unknown as AmqpSinkConfig;
}

let admin: AmqpAdmin;

before(async () => {
  admin = await AmqpAdmin.connect();
});

after(async () => {
  await admin.close();
});

async function connected(t: TestContext, config: AmqpSinkConfig): Promise<SinkClient> {
  const sink = new AmqpSink(config, ctx);
  t.after(() => sink.close());
  await sink.connect(never);
  assert.equal(sink.isReady(), true);
  return sink;
}

const body = (message: ConsumeMessage): string => message.content.toString('utf8');

describe('amqp sink config', () => {
  test('defaults, and what the schema refuses', () => {
    const config = sinkConfig({ exchange: 'events' });
    assert.deepEqual(
      { ...config, url: undefined },
      {
        ...config,
        url: undefined,
        exchange_type: 'topic',
        declare: true,
        routing_key: '{schema}.{table}.{op}',
        mandatory: true,
        heartbeat_s: 30,
        connect_timeout_ms: 10000,
        max_batch: 500,
      },
    );
    assert.throws(() => sinkConfig({}), /exchange: is required/);
    assert.throws(() => sinkConfig({ exchange: 'e', url: 'http://127.0.0.1:5672' }), /url: must use amqp:\/\/ or amqps:\/\//);
    assert.throws(() => sinkConfig({ exchange: 'e', exchange_type: 'x-delayed' as AmqpConfig['exchange_type'] }), /exchange_type/);
    assert.throws(() => sinkConfig({ exchange: 'e', max_batch: 0 }), /max_batch/);
  });

  test('check() names a bad routing key placeholder; secrets() gives the URL password', () => {
    assert.deepEqual(amqpDescriptor.check?.(sinkConfig({ exchange: 'e' })), []);
    const problems = amqpDescriptor.check?.(sinkConfig({ exchange: 'e', routing_key: '{schema}.{tabel}' })) ?? [];
    assert.equal(problems.length, 1);
    assert.equal(problems[0].path, 'routing_key');
    assert.match(problems[0].message, /\{tabel\}/);

    const secrets = amqpDescriptor.secrets?.(sinkConfig({ exchange: 'e', url: 'amqps://app:p%40ss%2Fw0rd@mq.example:5671/prod' })) ?? [];
    assert.deepEqual(secrets, ['p%40ss%2Fw0rd', 'p@ss/w0rd']);
    assert.deepEqual(amqpDescriptor.secrets?.(sinkConfig({ exchange: 'e', url: 'amqp://mq.example' })), []);
  });
});

describe('amqp sink', () => {
  test('topic exchange: bindings receive exactly the events their pattern matches', async (t) => {
    const ex = await admin.exchange('topic', t);
    const orders = await admin.queue(ex, 'public.orders.*', t);
    const deletes = await admin.queue(ex, '*.*.delete', t);
    const sink = await connected(t, sinkConfig({ exchange: ex }));

    const insert = rowEvent({ op: 'INSERT' });
    const update = rowEvent({ op: 'UPDATE' });
    const remove = rowEvent({ op: 'DELETE' });
    const otherDelete = rowEvent({ op: 'DELETE', table: 'items' });
    await sink.send([insert, update, remove, otherDelete], never);

    await orders.settle(3);
    assert.deepEqual(orders.ids(), [insert.id, update.id, remove.id]);
    assert.deepEqual(
      orders.messages.map((m) => m.fields.routingKey),
      ['public.orders.insert', 'public.orders.update', 'public.orders.delete'],
    );
    await deletes.settle(2);
    assert.deepEqual(deletes.ids(), [remove.id, otherDelete.id]);
  });

  test('message properties and the CONTRACT §3.1 body, bigint digits kept', async (t) => {
    const ex = await admin.exchange('topic', t);
    const inbox = await admin.queue(ex, '#', t);
    const sink = await connected(t, sinkConfig({ exchange: ex }));
    const event = rowEvent({
      op: 'UPDATE',
      data: '{"id":9007199254740993,"n":1.50}',
      old: '{"id":9007199254740993,"n":1}',
      key: '{"id":9007199254740993}',
    });

    await sink.send([event], never);

    const [message] = await inbox.settle(1);
    assert.equal(inbox.messages.length, 1);
    assert.equal(message.properties.deliveryMode, 2);
    assert.equal(message.properties.contentType, 'application/json');
    assert.equal(message.properties.messageId, event.id);
    assert.deepEqual(message.properties.headers, { 'pgbridge-id': event.id, 'pgbridge-op': 'UPDATE', 'pgbridge-table': 'public.orders' });
    assert.equal(body(message), pgbridgeBody(event));
    assert.match(body(message), /"data":\{"id":9007199254740993,"n":1\.50\}/);
  });

  test("skor format: the body is skor's payload", async (t) => {
    const ex = await admin.exchange('topic', t);
    const inbox = await admin.queue(ex, '#', t);
    const sink = await connected(t, sinkConfig({ exchange: ex }, 'skor'));
    const event = rowEvent({ op: 'INSERT', data: '{"id":1,"name":"abc1"}' });

    await sink.send([event], never);

    const [message] = await inbox.settle(1);
    assert.equal(body(message), '{"table":"orders","schema":"public","op":"INSERT","data":{"id":1,"name":"abc1"}}');
  });

  test('cloudevents: binary mode with cloudEvents: application properties and the data object as body', async (t) => {
    const ex = await admin.exchange('topic', t);
    const inbox = await admin.queue(ex, '#', t);
    const sink = await connected(t, sinkConfig({ exchange: ex }, 'cloudevents'));
    const row = rowEvent({ op: 'UPDATE', data: '{"id":7,"status":"paid"}', old: '{"id":7,"status":"new"}', key: '{"id":7}' });
    const notify = channelEvent({ channel: 'jobs', payload: 'not json' });

    await sink.send([row, notify], never);

    const [rowMessage, notifyMessage] = await inbox.settle(2);
    assert.equal(inbox.messages.length, 2);
    assert.equal(rowMessage.properties.contentType, 'application/json');
    assert.equal(rowMessage.properties.messageId, row.id);
    const rowHeaders = rowMessage.properties.headers ?? {};
    assert.equal(rowHeaders['cloudEvents:specversion'], '1.0');
    assert.equal(rowHeaders['cloudEvents:id'], row.id);
    assert.equal(rowHeaders['cloudEvents:type'], 'pgbridge.row.update');
    assert.equal(rowHeaders['cloudEvents:source'], '/pgbridge/testdb/public.orders');
    assert.equal(rowHeaders['cloudEvents:subject'], '7');
    assert.equal(rowHeaders['cloudEvents:time'], row.ts);
    assert.equal(rowHeaders['cloudEvents:datacontenttype'], undefined, 'datacontenttype travels as content-type');
    assert.deepEqual(JSON.parse(body(rowMessage)), { data: { id: 7, status: 'paid' }, old: { id: 7, status: 'new' } });
    assert.equal(body(rowMessage), cloudEventDataBody(row));

    const notifyHeaders = notifyMessage.properties.headers ?? {};
    assert.equal(notifyHeaders['cloudEvents:type'], 'pgbridge.notify');
    assert.equal(notifyHeaders['cloudEvents:source'], '/pgbridge/testdb/channel/jobs');
    assert.equal('cloudEvents:subject' in notifyHeaders, false);
    assert.equal(body(notifyMessage), '"not json"');
  });

  test('channel events are routed by channel name under the default template', async (t) => {
    const ex = await admin.exchange('topic', t);
    const jobs = await admin.queue(ex, 'jobs', t);
    const sink = await connected(t, sinkConfig({ exchange: ex }));
    const event = channelEvent({ channel: 'jobs', payload: '{"task":42}' });

    await sink.send([event], never);

    const [message] = await jobs.settle(1);
    assert.equal(jobs.messages.length, 1);
    assert.equal(message.fields.routingKey, 'jobs');
    assert.equal(body(message), pgbridgeBody(event));
    assert.deepEqual(message.properties.headers, { 'pgbridge-id': event.id, 'pgbridge-op': 'NOTIFY', 'pgbridge-channel': 'jobs' });
  });

  test('direct exchange with a custom routing key template', async (t) => {
    const ex = uniqueName('direct');
    t.after(() => admin.deleteExchange(ex));
    const sink = await connected(t, sinkConfig({ exchange: ex, exchange_type: 'direct', routing_key: '{table}' }));
    // Re-declaring with the same type succeeds only if the sink declared it as direct.
    await (await admin.channel(t)).assertExchange(ex, 'direct', { durable: true });
    const orders = await admin.queue(ex, 'orders', t);
    const events = [rowEvent({ op: 'INSERT' }), rowEvent({ op: 'DELETE' })];

    await sink.send(events, never);

    await orders.settle(2);
    assert.deepEqual(
      orders.ids(),
      events.map((e) => e.id),
    );
    assert.deepEqual(
      orders.messages.map((m) => m.fields.routingKey),
      ['orders', 'orders'],
    );
  });

  test('an unroutable message is a PermanentError naming only it; the rest of the batch arrives', async (t) => {
    const ex = await admin.exchange('topic', t);
    const orders = await admin.queue(ex, 'public.orders.*', t);
    const sink = await connected(t, sinkConfig({ exchange: ex }));
    const first = rowEvent({ op: 'INSERT' });
    const stray = rowEvent({ op: 'INSERT', table: 'nobody_listens' });
    const last = rowEvent({ op: 'UPDATE' });

    const err = await sink.send([first, stray, last], never).then(
      () => assert.fail('send should reject'),
      (e: unknown) => e,
    );

    assert.ok(err instanceof PermanentError, `expected PermanentError, got ${String(err)}`);
    assert.deepEqual(err.failedIds, [stray.id]);
    await orders.settle(2);
    assert.deepEqual(orders.ids(), [first.id, last.id]);
    // The sink stays usable after a permanent failure.
    assert.equal(sink.isReady(), true);
    const again = rowEvent({ op: 'DELETE' });
    await sink.send([again], never);
    await orders.settle(3);
    assert.deepEqual(orders.ids(), [first.id, last.id, again.id]);
  });

  test("a full queue nacks a row's large event and takes its small next one: the next waits for that answer, and the resend keeps the row's order", async (t) => {
    const ex = await admin.exchange('topic', t);
    const channel = await admin.channel(t);
    const queue = uniqueName('full');
    await channel.assertQueue(queue, { durable: false, arguments: { 'x-max-length-bytes': 5000, 'x-overflow': 'reject-publish' } });
    t.after(() => admin.channel().then((c) => c.deleteQueue(queue).then(() => c.close())));
    await channel.bindQueue(queue, ex, '#');
    // Junk to a kilobyte below the limit: room for a small message, not for a large one.
    for (let n = 0; n < 4; n++) channel.sendToQueue(queue, Buffer.alloc(1000, 'j'), { messageId: 'junk' });
    await waitForQueue(channel, queue, 4);
    const sink = await connected(t, sinkConfig({ exchange: ex }));
    const row = { key: '{"id":1}' };
    const batch = [
      rowEvent({ ...row, data: JSON.stringify({ id: 1, pad: 'B'.repeat(3000) }) }),
      rowEvent({ ...row, op: 'UPDATE' }),
      rowEvent({ key: '{"id":2}' }),
    ];
    const err = await sink.send(batch, never).then(
      () => assert.fail('send should reject'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof RetriableError && !(err instanceof PermanentError), String(err));
    const read = async (): Promise<string[]> => {
      const ids: string[] = [];
      for (let m = await channel.get(queue, { noAck: true }); m !== false; m = await channel.get(queue, { noAck: true }))
        ids.push(String(m.properties.messageId));
      return ids.filter((id) => id !== 'junk');
    };
    assert.deepEqual(await read(), [], "nothing stored: row 1's UPDATE waited for the nack, and the send stopped there");
    await sink.send(batch, never);
    assert.deepEqual(await read(), [batch[0].id, batch[1].id, batch[2].id], 'the row in its order');
  });

  test('a routing key over 255 UTF-8 bytes, or headers amqplib cannot encode: a PermanentError for those alone; the rest arrives', async (t) => {
    const ex = await admin.exchange('topic', t);
    const inbox = await admin.queue(ex, '#', t);
    const sink = await connected(t, sinkConfig({ exchange: ex }, 'cloudevents'));
    const first = rowEvent({ op: 'INSERT' });
    // 139 characters but 264 bytes: the limit is on bytes.
    const longKey = rowEvent({ op: 'INSERT', table: 'é'.repeat(125) });
    // Its cloudEvents:subject header alone is over amqplib's 64 KiB header buffer.
    const hugeSubject = rowEvent({ op: 'INSERT', key: `{"id":"${'k'.repeat(70_000)}"}` });
    const last = rowEvent({ op: 'UPDATE' });

    const err = await sink.send([first, longKey, hugeSubject, last], never).then(
      () => assert.fail('send should reject'),
      (e: unknown) => e,
    );

    assert.ok(err instanceof PermanentError, `expected PermanentError, got ${String(err)}`);
    assert.deepEqual(err.failedIds, [longKey.id, hugeSubject.id]);
    assert.match(err.reasonFor(longKey.id), /routing key "public\.é+\.insert" is 264 bytes, over AMQP's 255-byte limit/);
    assert.match(err.reasonFor(hugeSubject.id), /cannot encode the message: .*exceeds the 65536 byte encoding buffer/);
    await inbox.settle(2);
    assert.deepEqual(inbox.ids(), [first.id, last.id]);
    assert.equal(sink.isReady(), true);
  });

  test('declare: false uses an existing exchange and fails to connect when it is missing', async (t) => {
    const missing = uniqueName('missing');
    const absent = new AmqpSink(sinkConfig({ exchange: missing, declare: false }), ctx);
    t.after(() => absent.close());
    await assert.rejects(absent.connect(never), (err: unknown) => {
      assert.ok(err instanceof RetriableError);
      assert.match(err.message, new RegExp(`exchange "${missing}"`));
      assert.match(err.message, /NOT_FOUND/);
      return true;
    });
    assert.equal(absent.isReady(), false);
    await assert.rejects(absent.send([rowEvent()], never), RetriableError);
    const check = await admin.channel(t);
    await assert.rejects(check.checkExchange(missing), /NOT_FOUND/, 'the sink must not have declared it');

    const ex = await admin.exchange('topic', t);
    const inbox = await admin.queue(ex, '#', t);
    const sink = await connected(t, sinkConfig({ exchange: ex, declare: false }));
    const event = rowEvent();
    await sink.send([event], never);
    await inbox.settle(1);
    assert.deepEqual(inbox.ids(), [event.id]);
  });

  test('an unreachable broker or wrong password: RetriableError without the password', async (t) => {
    const down = new AmqpSink(sinkConfig({ exchange: 'x', url: 'amqp://guest:pw-down-1234@127.0.0.1:1/' }), ctx);
    t.after(() => down.close());
    await assert.rejects(down.connect(never), (err: unknown) => {
      assert.ok(err instanceof RetriableError);
      assert.match(err.message, /cannot connect.*ECONNREFUSED/);
      assert.match(err.message, /127\.0\.0\.1:1/);
      assert.doesNotMatch(err.message, /pw-down-1234/);
      return true;
    });

    const denied = new AmqpSink(sinkConfig({ exchange: 'x', url: BROKER.replace(/:[^:@/]*@/, ':wrong-pw-5678@') }), ctx);
    t.after(() => denied.close());
    await assert.rejects(denied.connect(never), (err: unknown) => {
      assert.ok(err instanceof RetriableError);
      assert.match(err.message, /ACCESS.REFUSED/);
      assert.doesNotMatch(err.message, /wrong-pw-5678/);
      return true;
    });
    assert.equal(denied.isReady(), false);
  });

  test('an aborted signal: connect and send reject as retriable and publish nothing', async (t) => {
    const ex = await admin.exchange('topic', t);
    const inbox = await admin.queue(ex, '#', t);
    const aborted = AbortSignal.abort();
    const sink = new AmqpSink(sinkConfig({ exchange: ex }), ctx);
    t.after(() => sink.close());
    await assert.rejects(sink.connect(aborted), RetriableError);
    assert.equal(sink.isReady(), false);

    await sink.connect(never);
    await assert.rejects(sink.send([rowEvent()], aborted), RetriableError);
    const event = rowEvent();
    await sink.send([event], never);
    await inbox.settle(1);
    assert.deepEqual(inbox.ids(), [event.id]);
  });

  test('a channel error (exchange deleted under it) fails the send as retriable; connect() recovers', async (t) => {
    const ex = await admin.exchange('topic', t);
    const sink = await connected(t, sinkConfig({ exchange: ex }));
    const channel = await admin.channel(t);
    await channel.deleteExchange(ex);

    await assert.rejects(sink.send([rowEvent()], never), RetriableError);
    assert.equal(sink.isReady(), false);
    await assert.rejects(sink.send([rowEvent()], never), /not connected/);

    await sink.connect(never);
    assert.equal(sink.isReady(), true);
    const inbox = await admin.queue(ex, '#', t);
    const events = [rowEvent(), rowEvent({ op: 'DELETE' })];
    await sink.send(events, never);
    await inbox.settle(2);
    assert.deepEqual(
      inbox.ids(),
      events.map((e) => e.id),
    );
  });

  test('the broker closing the connection: not ready, send rejected, connect() again delivers everything', async (t) => {
    const ex = await admin.exchange('topic', t);
    const inbox = await admin.queue(ex, '#', t);
    const name = `cut-${randomUUID().slice(0, 8)}`;
    const sink = await connected(t, sinkConfig({ exchange: ex }, 'pgbridge', name));
    const pid = await brokerConnectionPid(`pgbridge ${name}`);

    // Send back to back so that the cut lands while batches are being sent.
    const delivered: BridgeEvent[] = [];
    let failedBatch: BridgeEvent[] = [];
    let failure: unknown;
    const pump = (async () => {
      const stopAt = Date.now() + 20_000;
      while (Date.now() < stopAt) {
        const batch = Array.from({ length: 100 }, () => rowEvent());
        try {
          await sink.send(batch, never);
          delivered.push(...batch);
        } catch (err) {
          failedBatch = batch;
          failure = err;
          return;
        }
      }
    })();
    await sleep(200);
    await run('rabbitmqctl', ['close_connection', pid, 'pgbridge test: connection cut']);
    await pump;

    assert.ok(failure instanceof RetriableError, `expected a RetriableError, got ${String(failure)}`);
    // Usually the batch in flight fails; when the close frame came right behind the last confirms, the next send does.
    assert.match(failure.message, /connection lost: Connection closed: 320|not connected/);
    assert.equal(sink.isReady(), false);
    await assert.rejects(sink.send([rowEvent()], never), (err: unknown) => err instanceof RetriableError && /not connected/.test(err.message));

    await sink.connect(never);
    assert.equal(sink.isReady(), true);
    const afterCut = Array.from({ length: 5 }, () => rowEvent());
    await sink.send([...failedBatch, ...afterCut], never);

    const expected = new Set([...delivered, ...failedBatch, ...afterCut].map((e) => e.id));
    const deadline = Date.now() + 15_000;
    while (!containsAll(inbox.ids(), expected) && Date.now() < deadline) await sleep(50);
    await sleep(200);
    const received = new Set(inbox.ids());
    assert.ok(delivered.length > 0, 'some batches were confirmed before the cut');
    assert.equal([...expected].filter((id) => !received.has(id)).length, 0, 'every confirmed or resent event arrived');
    assert.equal(received.size, expected.size, 'nothing but the sent events arrived');
  });
});

const containsAll = (ids: readonly string[], expected: Set<string>): boolean => {
  const got = new Set(ids);
  return [...expected].every((id) => got.has(id));
};

const run = promisify(execFile);

/** The broker's id of one named client connection, so the test cuts only that one and no other client on the machine. */
async function brokerConnectionPid(connectionName: string): Promise<string> {
  const { stdout } = await run('rabbitmqctl', ['list_connections', '-q', 'pid', 'client_properties']);
  const line = stdout.split('\n').find((l) => l.includes(`{"connection_name","${connectionName}"}`));
  assert.ok(line, `no broker connection named ${connectionName}`);
  return line.split('\t')[0];
}

/** Waits until `queue` holds `count` messages. */
async function waitForQueue(channel: Channel, queue: string, count: number): Promise<void> {
  for (let i = 0; i < 100 && (await channel.checkQueue(queue)).messageCount < count; i++) await sleep(20);
}
