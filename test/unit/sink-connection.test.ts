import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import pino from 'pino';
import { RetriableError } from '../../src/errors.js';
import { SinkConnection } from '../../src/sinks/sink-connection.js';

/** A connection the test opens by hand: `opening` holds each open() until the test resolves or rejects it. */
class Far {
  readonly opening: Array<{ readonly resolve: (id: number) => void; readonly reject: (err: Error) => void }> = [];
  readonly closed: number[] = [];
  readonly opened: number[] = [];
  readonly connection = new SinkConnection<number>({
    open: () => new Promise<number>((resolve, reject) => this.opening.push({ resolve, reject })),
    opened: (id) => this.opened.push(id),
    close: (id) => {
      this.closed.push(id);
      return id === 99 ? Promise.reject(new Error('close failed')) : Promise.resolve();
    },
    abortError: () => new RetriableError('aborted'),
    logger: pino({ level: 'silent' }),
  });
}

const never = new AbortController().signal;
const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('SinkConnection', () => {
  test('callers at the same time share one open; once open, connect() opens nothing', async () => {
    const far = new Far();
    const a = far.connection.connect(never);
    const b = far.connection.connect(never);
    await tick();
    assert.equal(far.opening.length, 1);
    far.opening[0].resolve(1);
    await Promise.all([a, b]);
    assert.deepEqual([far.connection.isReady(), far.connection.usable(), far.opened], [true, 1, [1]]);
    await far.connection.connect(never);
    assert.equal(far.opening.length, 1);
  });

  test('lost() turns it not ready once, only for the connection in use; the next connect() closes the lost one', async () => {
    const far = new Far();
    const first = far.connection.connect(never);
    await tick();
    far.opening[0].resolve(1);
    await first;
    assert.equal(far.connection.lost(2), false);
    assert.equal(far.connection.lost(1), true);
    assert.equal(far.connection.lost(1), false);
    assert.deepEqual([far.connection.isReady(), far.connection.usable()], [false, undefined]);
    const second = far.connection.connect(never);
    await tick();
    assert.deepEqual(far.closed, [1]);
    far.opening[1].resolve(2);
    await second;
    assert.equal(far.connection.usable(), 2);
  });

  test('close() during an open: the late connection is closed, never installed, and connect() rejects', async () => {
    const far = new Far();
    const connecting = far.connection.connect(never);
    await tick();
    const closing = far.connection.close();
    far.opening[0].resolve(5);
    await assert.rejects(connecting, RetriableError);
    await closing;
    assert.deepEqual([far.connection.isReady(), far.closed, far.opened], [false, [5], []]);
  });

  test('an aborted connect rejects at once; what opens after that is closed', async () => {
    const far = new Far();
    const abort = new AbortController();
    const connecting = far.connection.connect(abort.signal);
    await tick();
    abort.abort();
    await assert.rejects(connecting, /aborted/);
    far.opening[0].resolve(7);
    await tick();
    assert.deepEqual([far.connection.isReady(), far.closed], [false, [7]]);
  });

  test('a failed open leaves it not ready and can be tried again; a failing close is not thrown', async () => {
    const far = new Far();
    const first = far.connection.connect(never);
    await tick();
    far.opening[0].reject(new Error('refused'));
    await assert.rejects(first, /refused/);
    assert.equal(far.connection.isReady(), false);
    const second = far.connection.connect(never);
    await tick();
    far.opening[1].resolve(99);
    await second;
    await far.connection.close();
    assert.deepEqual([far.connection.isReady(), far.closed], [false, [99]]);
  });
});
