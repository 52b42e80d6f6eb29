import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, mock, test } from 'node:test';
import { SilenceWatch } from '../../src/source/wal/silence-watch.js';

describe('SilenceWatch: asks a silent replication connection, gives up past the deadline', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setInterval', 'Date'] }));
  afterEach(() => mock.timers.reset());

  const watch = () => {
    const calls: string[] = [];
    const w = new SilenceWatch({
      askAfterMs: 5000,
      deadAfterMs: 15_000,
      ask: () => calls.push(`ask ${Date.now()}`),
      onDead: (silent) => calls.push(`dead ${silent}`),
    });
    return { w, calls };
  };

  test('silent: asks every 5 s, then dead once at 15 s, and no more', () => {
    const { w, calls } = watch();
    for (let i = 0; i < 20; i++) mock.timers.tick(1000);
    assert.deepEqual(calls, ['ask 5000', 'ask 10000', 'dead 15000']);
    w.stop();
  });

  test('anything heard resets the silence: never asks while messages arrive each second', () => {
    const { w, calls } = watch();
    for (let i = 0; i < 30; i++) {
      w.heard();
      mock.timers.tick(1000);
    }
    assert.deepEqual(calls, []);
    w.stop();
  });

  test('suspended (socket paused) it never fires; resumed, the silence counts from then', () => {
    const { w, calls } = watch();
    w.suspend();
    for (let i = 0; i < 60; i++) mock.timers.tick(1000);
    assert.deepEqual(calls, []);
    w.resume();
    for (let i = 0; i < 15; i++) mock.timers.tick(1000);
    assert.deepEqual(calls, ['ask 65000', 'ask 70000', 'dead 15000']);
    w.stop();
  });

  test('a tick late by seconds (this process busy) restarts the count: what arrived may not be read yet', () => {
    const { w, calls } = watch();
    for (let i = 0; i < 4; i++) mock.timers.tick(1000);
    mock.timers.tick(20_000);
    assert.deepEqual(calls, []);
    w.stop();
  });
});
