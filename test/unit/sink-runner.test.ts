import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Outcome } from '../../src/delivery/envelope.js';
import { SinkRunner } from '../../src/delivery/sink-runner.js';
import { PermanentError, RetriableError } from '../../src/errors.js';
import type { Metrics } from '../../src/metrics.js';
import { collecting, FakeSink, metrics, rowEvent, silent, until } from './support/fake-sink.js';

const RETRY = { initial_ms: 1, max_ms: 2, max_attempts: 0 };

function runner(sink: FakeSink, retry = RETRY, capacity?: number, m = metrics()): SinkRunner {
  return new SinkRunner(sink, { retry, logger: silent, metrics: m, capacity });
}

async function retried(m: Metrics): Promise<number> {
  return (await m.deliveries.get()).values.find((v) => v.labels.outcome === 'retried')?.value ?? 0;
}

describe('SinkRunner with a fake sink', () => {
  test('delivers every event once, in batches of at most maxBatch, in push order, and settles each as delivered', async () => {
    const sink = new FakeSink('fake', 10, 1);
    const r = runner(sink);
    const outcomes = new Map<string, Outcome[]>();
    for (let n = 1; n <= 25; n++) r.push(collecting(rowEvent(n), outcomes));
    await until(() => outcomes.size === 25, '25 outcomes');
    assert.deepEqual(
      sink.sent.flat().map((e) => e.id),
      Array.from({ length: 25 }, (_, i) => String(i + 1)),
    );
    assert.ok(
      sink.sent.every((b) => b.length <= 10),
      `batches of ${sink.sent.map((b) => b.length).join(', ')}`,
    );
    assert.ok([...outcomes.values()].every((o) => o.length === 1 && o[0].kind === 'delivered'));
    assert.equal(r.pending, 0);
    await r.stop(1000, true);
    assert.ok(sink.closed, 'stop closes the sink');
  });

  test('events of one row keep their order over several lanes', async () => {
    const sink = new FakeSink('fake', 3, 4);
    const r = runner(sink);
    const outcomes = new Map<string, Outcome[]>();
    // Rows 1-5, ten changes each, interleaved.
    for (let n = 1; n <= 50; n++) r.push(collecting(rowEvent(n, (n % 5) + 1), outcomes));
    await until(() => outcomes.size === 50, '50 outcomes');
    for (let key = 1; key <= 5; key++) {
      const ids = sink.sent
        .flat()
        .filter((e) => e.kind === 'row' && e.key === `{"id":${key}}`)
        .map((e) => Number(e.id));
      assert.deepEqual(
        ids,
        [...ids].sort((a, b) => a - b),
        `row ${key} in order`,
      );
      assert.equal(ids.length, 10);
    }
    await r.stop(1000, true);
  });

  test('a retriable failure is retried until the sink accepts; the retries are counted and status keeps the last error', async () => {
    const sink = new FakeSink();
    sink.failures.push(new RetriableError('far end busy'), new RetriableError('far end busy'));
    const m = metrics();
    const r = runner(sink, RETRY, undefined, m);
    const outcomes = new Map<string, Outcome[]>();
    r.push(collecting(rowEvent(1), outcomes));
    await until(() => outcomes.size === 1, 'the outcome');
    assert.deepEqual(outcomes.get('1'), [{ kind: 'delivered' }]);
    assert.equal(sink.sent.length, 1, 'sent once successfully');
    assert.equal(await retried(m), 2, 'two retried attempts counted');
    const status = r.status();
    assert.equal(status.state, 'delivering', 'a success ends the failing state');
    assert.equal(status.failingSince, null);
    assert.equal(status.lastError, 'far end busy', 'the last error stays for the console');
    await r.stop(1000, true);
  });

  test('retries exhausted: the batch is settled dead with the attempts made', async () => {
    const sink = new FakeSink();
    sink.failures.push(new Error('no'), new Error('no'), new Error('still no'));
    const r = runner(sink, { initial_ms: 1, max_ms: 1, max_attempts: 3 });
    const outcomes = new Map<string, Outcome[]>();
    r.push(collecting(rowEvent(1), outcomes));
    r.push(collecting(rowEvent(2), outcomes));
    await until(() => outcomes.size === 2, 'two outcomes');
    for (const id of ['1', '2']) assert.deepEqual(outcomes.get(id), [{ kind: 'dead', error: 'still no', attempts: 3 }]);
    assert.equal(sink.sent.length, 0);
    await r.stop(1000, true);
  });

  test('retries exhausted with nothing else to send: no longer failing (delivering, no failing_since), the last error kept', async () => {
    const sink = new FakeSink();
    sink.failures.push(new RetriableError('HTTP 500'), new RetriableError('HTTP 500'), new RetriableError('HTTP 500'));
    const r = runner(sink, { initial_ms: 1, max_ms: 1, max_attempts: 3 });
    const outcomes = new Map<string, Outcome[]>();
    r.push(collecting(rowEvent(1), outcomes));
    await until(() => outcomes.size === 1, 'the outcome');
    assert.deepEqual(outcomes.get('1'), [{ kind: 'dead', error: 'HTTP 500', attempts: 3 }]);
    const status = r.status();
    assert.equal(status.state, 'delivering', 'nothing is left to retry');
    assert.equal(status.failingSince, null);
    assert.equal(status.lastError, 'HTTP 500', 'the last error stays for the console');
    assert.equal(r.delivering, true);
    await r.stop(1000, true);
  });

  test('retries exhausted batch after batch while events wait: failing throughout, since the first failure; not once none is left', async () => {
    const sink = new FakeSink('fake', 1, 1);
    for (let n = 0; n < 6; n++) sink.failures.push(new RetriableError('HTTP 500'));
    const r = runner(sink, { initial_ms: 1, max_ms: 1, max_attempts: 2 });
    const failingAtSend: Array<number | null> = [];
    sink.onSend = () => failingAtSend.push(r.status().failingSince);
    const outcomes = new Map<string, Outcome[]>();
    for (let n = 1; n <= 3; n++) r.push(collecting(rowEvent(n), outcomes));
    await until(() => outcomes.size === 3, 'three outcomes');
    assert.ok([...outcomes.values()].every((o) => o.length === 1 && o[0].kind === 'dead'));
    assert.equal(failingAtSend.length, 6, 'two attempts for each of three batches');
    assert.equal(failingAtSend[0], null, 'not failing before the first attempt');
    const since = failingAtSend[1];
    assert.ok(since !== null);
    assert.deepEqual(failingAtSend.slice(1), Array(5).fill(since), 'failing from the first failure on, between batches too');
    assert.equal(r.status().failingSince, null, 'not failing once nothing is left');
    await r.stop(1000, true);
  });

  test('a permanent failure after retried ones, with nothing else to send: no longer failing', async () => {
    const sink = new FakeSink();
    sink.failures.push(new RetriableError('HTTP 500'), new PermanentError('HTTP 400'));
    const r = runner(sink);
    const outcomes = new Map<string, Outcome[]>();
    r.push(collecting(rowEvent(1), outcomes));
    await until(() => outcomes.size === 1, 'the outcome');
    assert.deepEqual(outcomes.get('1'), [{ kind: 'dead', error: 'HTTP 400', attempts: 2 }]);
    assert.equal(r.status().state, 'delivering');
    assert.equal(r.status().failingSince, null);
    await r.stop(1000, true);
  });

  test('a permanent failure kills only the events it names; the rest of the batch is delivered', async () => {
    const sink = new FakeSink();
    sink.failures.push(new PermanentError('event 2 refused', { failedIds: ['2'] }));
    const r = runner(sink);
    const outcomes = new Map<string, Outcome[]>();
    for (let n = 1; n <= 3; n++) r.push(collecting(rowEvent(n), outcomes));
    await until(() => outcomes.size === 3, 'three outcomes');
    assert.deepEqual(outcomes.get('1'), [{ kind: 'delivered' }]);
    assert.deepEqual(outcomes.get('2'), [{ kind: 'dead', error: 'event 2 refused', attempts: 1 }]);
    assert.deepEqual(outcomes.get('3'), [{ kind: 'delivered' }]);
    await r.stop(1000, true);
  });

  test("a permanent failure with a reason per event: each dead letter records its own event's reason, not the first one's", async () => {
    const sink = new FakeSink();
    sink.failures.push(
      PermanentError.ofEvents(
        [
          { id: '1', reason: 'subject "a.b.c" refused' },
          { id: '3', reason: 'subject "x.y.z" refused' },
          { id: '4', reason: 'subject "a.b.c" refused' },
        ],
        'PGBRIDGE_TEST',
      ),
    );
    const m = metrics();
    const r = runner(sink, RETRY, undefined, m);
    const outcomes = new Map<string, Outcome[]>();
    for (let n = 1; n <= 4; n++) r.push(collecting(rowEvent(n), outcomes));
    await until(() => outcomes.size === 4, 'four outcomes');
    assert.deepEqual(outcomes.get('1'), [{ kind: 'dead', error: 'subject "a.b.c" refused', attempts: 1 }]);
    assert.deepEqual(outcomes.get('2'), [{ kind: 'delivered' }]);
    assert.deepEqual(outcomes.get('3'), [{ kind: 'dead', error: 'subject "x.y.z" refused', attempts: 1 }]);
    assert.deepEqual(outcomes.get('4'), [{ kind: 'dead', error: 'subject "a.b.c" refused', attempts: 1 }]);
    assert.equal((await m.deadLetters.get()).values[0]?.value, 3);
    assert.equal(r.pending, 0);
    await r.stop(1000, true);
  });

  test('an event too large to encode is a dead letter at once, even with retries unlimited; a batch too large is sent one event at a time', async () => {
    const sink = new FakeSink();
    // The batch as one body is too long, and so is event 2 on its own (V8's RangeError); 1 and 3 alone are fine.
    sink.refuse = (batch) => (batch.length > 1 || batch[0].id === '2' ? new RangeError('Invalid string length') : undefined);
    const r = runner(sink);
    const outcomes = new Map<string, Outcome[]>();
    for (let n = 1; n <= 3; n++) r.push(collecting(rowEvent(n), outcomes));
    await until(() => outcomes.size === 3, 'three outcomes');
    assert.deepEqual(outcomes.get('1'), [{ kind: 'delivered' }]);
    assert.deepEqual(outcomes.get('2'), [{ kind: 'dead', error: 'event too large to encode: Invalid string length', attempts: 1 }]);
    assert.deepEqual(outcomes.get('3'), [{ kind: 'delivered' }]);
    assert.deepEqual(
      sink.sent.map((batch) => batch.map((e) => e.id)),
      [['1'], ['3']],
    );
    await r.stop(1000, true);
  });

  test('stopped while a batch sent one event at a time retries one: the events after it are handed back too, not sent ahead of it', async () => {
    const sink = new FakeSink('fake', 10, 1);
    let tries = 0;
    // Two events of one row: together too long to encode; the first alone fails (retried), the second alone would go.
    sink.refuse = (batch) => {
      if (batch.length > 1) return new RangeError('Invalid string length');
      if (batch[0].id === '1') return (tries++, new RetriableError('connection reset'));
      return undefined;
    };
    const r = runner(sink);
    const outcomes = new Map<string, Outcome[]>();
    r.push(collecting(rowEvent(1, 7), outcomes));
    r.push(collecting(rowEvent(2, 7), outcomes));
    await until(() => tries >= 2, 'the first event retried on its own');
    await r.stop(1000, false);
    assert.deepEqual(
      sink.sent.map((batch) => batch.map((e) => e.id)),
      [],
      "the row's later event went out while its earlier one was handed back",
    );
    assert.deepEqual([...outcomes.keys()], []);
  });

  test('an encoding failure wrapped by a library (its cause) counts too; another RangeError is retried', async () => {
    const sink = new FakeSink();
    sink.failures.push(new RangeError('Maximum call stack size exceeded'));
    sink.refuse = (batch) =>
      batch[0].id === '1' ? new Error('encode failed', { cause: Object.assign(new Error('too long'), { code: 'ERR_STRING_TOO_LONG' }) }) : undefined;
    const r = runner(sink);
    const outcomes = new Map<string, Outcome[]>();
    r.push(collecting(rowEvent(1), outcomes));
    await until(() => outcomes.size === 1, 'the outcome');
    assert.deepEqual(outcomes.get('1'), [{ kind: 'dead', error: 'event too large to encode: encode failed', attempts: 2 }]);
    await r.stop(1000, true);
  });

  test('room: push fills it, waitForRoom resolves once settled events free enough of it', async () => {
    const sink = new FakeSink('fake', 2, 1);
    let open!: () => void;
    sink.gate = new Promise((resolve) => (open = resolve));
    const r = runner(sink, RETRY, 4);
    const outcomes = new Map<string, Outcome[]>();
    for (let n = 1; n <= 4; n++) r.push(collecting(rowEvent(n), outcomes));
    assert.equal(r.room, 0);
    let woke = false;
    const waiting = r.waitForRoom(2).then(() => (woke = true));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(woke, false, 'no room while the sink holds the first batch');
    sink.gate = undefined;
    open();
    await waiting;
    assert.ok(r.room >= 2);
    await until(() => outcomes.size === 4, 'four outcomes');
    await r.stop(1000, true);
  });

  test('stop without finishing: queued events are handed back unsettled, never marked delivered', async () => {
    const sink = new FakeSink('fake', 1, 1);
    sink.failures.push(new RetriableError('down'));
    const r = runner(sink, { initial_ms: 60_000, max_ms: 60_000, max_attempts: 0 });
    const outcomes = new Map<string, Outcome[]>();
    // Two read from the outbox table (a spill read back): held, but not only in memory.
    for (let n = 1; n <= 5; n++) r.push({ ...collecting(rowEvent(n), outcomes), inTable: n % 2 === 0 });
    await until(() => r.status().state === 'retrying', 'the retry wait');
    const status = r.status();
    assert.equal(status.queued, 5);
    assert.equal(status.onlyInMemory, 3);
    assert.equal(status.lastError, 'down');
    assert.ok(status.failingSince !== null);
    await r.stop(5000, false);
    assert.equal(outcomes.size, 0, 'nothing settled');
    assert.equal(sink.sent.length, 0);
    assert.equal(r.pending, 0);
    assert.equal(r.status().onlyInMemory, 0);
  });

  test('stop finishing the queue (notify mode): what is queued is still delivered', async () => {
    const sink = new FakeSink('fake', 2, 1);
    const r = runner(sink);
    const outcomes = new Map<string, Outcome[]>();
    for (let n = 1; n <= 7; n++) r.push(collecting(rowEvent(n), outcomes));
    await r.stop(10_000, true);
    assert.equal(outcomes.size, 7);
    r.push(collecting(rowEvent(8), outcomes));
    assert.equal(r.pending, 0, 'a stopped runner takes nothing');
  });

  test("while a batch waits out its backoff, a failed reconnect (keepConnected) is the last error, not the batch's older one", async () => {
    const sink = new FakeSink();
    sink.failures.push(new RetriableError('HTTP 500'));
    const r = runner(sink, { initial_ms: 60_000, max_ms: 60_000, max_attempts: 0 });
    const outcomes = new Map<string, Outcome[]>();
    r.push(collecting(rowEvent(1), outcomes));
    await until(() => r.status().lastError === 'HTTP 500', 'the first failure');
    sink.disconnect();
    sink.connectFailures = Number.MAX_SAFE_INTEGER;
    r.keepConnected();
    try {
      await until(() => r.status().lastError === 'connection refused', 'the connection error as the last error', 2000);
      assert.equal(r.status().state, 'down');
    } finally {
      await r.stop(1000, false);
    }
    assert.equal(outcomes.size, 0);
  });

  test('a sink that cannot connect is down, and delivers once it can', async () => {
    const sink = new FakeSink();
    sink.disconnect();
    sink.connectFailures = Number.MAX_SAFE_INTEGER;
    const r = runner(sink, { initial_ms: 1, max_ms: 1, max_attempts: 0 });
    const outcomes = new Map<string, Outcome[]>();
    r.push(collecting(rowEvent(1), outcomes));
    await until(() => r.status().state === 'down', 'the down state');
    assert.equal(r.status().lastError, 'connection refused');
    sink.connectFailures = 0;
    await until(() => outcomes.size === 1, 'the outcome');
    assert.deepEqual(outcomes.get('1'), [{ kind: 'delivered' }]);
    assert.equal(r.status().state, 'delivering');
    await r.stop(1000, true);
  });

  test('an idle sink that cannot connect is down (failing) with its error; connected again, it is delivering', async () => {
    const sink = new FakeSink();
    sink.disconnect();
    sink.connectFailures = Number.MAX_SAFE_INTEGER;
    const r = runner(sink, { initial_ms: 1, max_ms: 5, max_attempts: 0 });
    r.keepConnected();
    try {
      await until(() => r.status().state === 'down', 'the down state');
      assert.ok(r.status().failingSince !== null, 'failing, with nothing waiting');
      assert.equal(r.status().lastError, 'connection refused');
      sink.connectFailures = 0;
      await until(() => r.status().state === 'delivering', 'delivering again');
      assert.equal(r.status().failingSince, null);
    } finally {
      await r.stop(1000, true);
    }
  });

  test('retries run out while the sink is not connected: it stays down (failing) until it connects', async () => {
    const sink = new FakeSink();
    sink.disconnect();
    sink.connectFailures = Number.MAX_SAFE_INTEGER;
    const r = runner(sink, { initial_ms: 1, max_ms: 1, max_attempts: 2 });
    const outcomes = new Map<string, Outcome[]>();
    try {
      r.push(collecting(rowEvent(1), outcomes));
      await until(() => outcomes.size === 1, 'the dead letter');
      assert.equal(outcomes.get('1')![0].kind, 'dead');
      assert.equal(r.status().state, 'down');
      assert.ok(r.status().failingSince !== null, 'still failing: not connected');
    } finally {
      await r.stop(1000, true);
    }
  });
});
