import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { RetriableError } from '../../src/errors.js';
import { binaryCloudEvent } from '../../src/formats/index.js';
import { ConfiguredSink } from '../../src/sinks/configured-sink.js';
import { eventHeaders } from '../../src/sinks/event-headers.js';
import type { SinkClient } from '../../src/sinks/sink.js';
import { untilAborted } from '../../src/sinks/until-aborted.js';
import { channelEvent, rowEvent } from '../support/events.js';
import { loadSinkConfig } from '../support/sink-config.js';

const never = new AbortController().signal;

describe('eventHeaders (every broker sink)', () => {
  test('a row event: id, op as in the body, schema.table', () => {
    assert.deepEqual(eventHeaders(rowEvent({ id: '42', op: 'UPDATE', schema: 'sales', table: 'orders' })), {
      'pgbridge-id': '42',
      'pgbridge-op': 'UPDATE',
      'pgbridge-table': 'sales.orders',
    });
  });

  test('a channel event: op NOTIFY and the channel instead of a table', () => {
    assert.deepEqual(eventHeaders(channelEvent({ id: 'c-9', channel: 'jobs' })), {
      'pgbridge-id': 'c-9',
      'pgbridge-op': 'NOTIFY',
      'pgbridge-channel': 'jobs',
    });
  });
});

describe('binaryCloudEvent', () => {
  test('a row event: prefixed attributes without datacontenttype, which is the content type; data as body', () => {
    const event = rowEvent({ id: '7', op: 'DELETE', data: '{"id":3}', old: '{"id":3,"s":"x"}', key: '{"id":3}' });
    assert.deepEqual(binaryCloudEvent(event, { database: 'shop' }, 'ce_'), {
      attributes: {
        ce_specversion: '1.0',
        ce_id: '7',
        ce_time: '2026-11-21T10:00:00.123456+00:00',
        ce_type: 'pgbridge.row.delete',
        ce_source: '/pgbridge/shop/public.orders',
        ce_subject: '3',
      },
      contentType: 'application/json',
      data: '{"data":{"id":3},"old":{"id":3,"s":"x"}}',
    });
  });

  test('a channel event and a row without a key have no subject', () => {
    const channel = binaryCloudEvent(channelEvent({ id: 'c-1', channel: 'jobs', payload: 'plain' }), { database: 'shop' }, 'ce-');
    assert.deepEqual(channel.attributes, {
      'ce-specversion': '1.0',
      'ce-id': 'c-1',
      'ce-time': '2026-11-21T10:00:00.123456+00:00',
      'ce-type': 'pgbridge.notify',
      'ce-source': '/pgbridge/shop/channel/jobs',
    });
    assert.equal(channel.data, '"plain"');
    assert.equal('cloudEvents:subject' in binaryCloudEvent(rowEvent({ key: null }), { database: 'shop' }, 'cloudEvents:').attributes, false);
  });
});

describe('untilAborted', () => {
  const aborted = (signal: AbortSignal) => new RetriableError('aborted', { cause: signal.reason });

  test('settles with the work while the signal stays quiet', async () => {
    assert.equal(await untilAborted(Promise.resolve(5), never, aborted), 5);
    await assert.rejects(untilAborted(Promise.reject(new Error('boom')), never, aborted), /boom/);
  });

  test('rejects at once when the signal aborts; a late value goes to discard, a late failure is swallowed', async () => {
    const controller = new AbortController();
    let finish!: (value: string) => void;
    const discarded: string[] = [];
    const waiting = untilAborted(new Promise<string>((resolve) => (finish = resolve)), controller.signal, aborted, (late) => discarded.push(late));
    controller.abort('stop');
    await assert.rejects(waiting, (err: unknown) => err instanceof RetriableError && err.cause === 'stop');
    finish('late');
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(discarded, ['late']);

    const failing = untilAborted(Promise.reject(new Error('ignored')), controller.signal, aborted);
    await assert.rejects(failing, RetriableError);
  });
});

describe('ConfiguredSink', () => {
  const config = loadSinkConfig({
    name: 'hook',
    type: 'webhook',
    url: 'http://127.0.0.1/hook',
    batch: { max_events: 5, max_wait_ms: 7 },
    max_in_flight: 3,
  });

  function client(ready: boolean): SinkClient & { connects: number; sent: number } {
    return {
      connects: 0,
      sent: 0,
      async connect() {
        this.connects++;
        ready = true;
      },
      async send() {
        this.sent++;
      },
      isReady: () => ready,
      async close() {},
    };
  }

  test('name, type and the batching keys come from the config', () => {
    const sink = new ConfiguredSink(config, async () => client(true));
    assert.deepEqual([sink.name, sink.type, sink.maxBatch, sink.batchWaitMs, sink.maxInFlight], ['hook', 'webhook', 5, 7, 3]);
  });

  test('not ready until the client is loaded; connect() connects a client only when it is not ready', async () => {
    const idle = client(true);
    const sink = new ConfiguredSink(config, async () => idle);
    assert.equal(sink.isReady(), false);
    await sink.connect(never);
    assert.deepEqual([sink.isReady(), idle.connects], [true, 0]);

    const broker = client(false);
    const other = new ConfiguredSink(config, async () => broker);
    await assert.rejects(other.send([rowEvent()], never), /not connected/);
    await other.connect(never);
    await other.send([rowEvent()], never);
    assert.deepEqual([broker.connects, broker.sent], [1, 1]);
  });

  test('a client that fails to load fails connect(), again on every try', async () => {
    const sink = new ConfiguredSink(config, () => Promise.reject(new Error('cannot load')));
    await assert.rejects(sink.connect(never), /cannot load/);
    await assert.rejects(sink.connect(never), /cannot load/);
    await sink.close();
  });
});
