import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SinkConfig } from '../../src/config/types.js';
import { StandbySinks } from '../../src/delivery/standby-sinks.js';
import { notCheckedOnStandby } from '../../src/sinks/registry.js';
import { FakeSink, silent, until } from './support/fake-sink.js';

const RETRY = { initial_ms: 1, max_ms: 2, max_attempts: 0 };

test('StandbySinks connects every sink, sends nothing, and close() ends the checks and closes every sink', async () => {
  const sinks = [new FakeSink('a'), new FakeSink('b')];
  for (const sink of sinks) sink.disconnect();
  sinks[1].connectFailures = 2;
  const configs = sinks.map((sink) => ({ name: sink.name, retry: RETRY }) as SinkConfig);
  const standby = new StandbySinks(configs, (config) => sinks.find((s) => s.name === config.name)!, silent);
  assert.deepEqual(
    standby.sinks.map((s) => s.name),
    ['a', 'b'],
  );
  await until(() => sinks.every((s) => s.isReady()), 'both sinks connected');
  await standby.close();
  assert.deepEqual(
    sinks.map((s) => [s.connects, s.sent.length, s.closed]),
    [
      [1, 0, true],
      [3, 0, true],
    ],
  );
});

test('a standby checks every sink but an MQTT sink with a fixed client_id (the broker would push the delivering one off)', () => {
  const sink = (config: object) => ({ name: 's', retry: RETRY, ...config }) as SinkConfig;
  const checkedWhileStandingBy = (config: SinkConfig): boolean => notCheckedOnStandby(config) === undefined;
  assert.equal(checkedWhileStandingBy(sink({ type: 'mqtt', client_id: null })), true);
  assert.equal(checkedWhileStandingBy(sink({ type: 'mqtt', client_id: 'plant-7' })), false);
  assert.equal(checkedWhileStandingBy(sink({ type: 'kafka', client_id: 'pgbridge' })), true, "kafka's client_id is only a label");
  assert.equal(checkedWhileStandingBy(sink({ type: 'webhook' })), true);
  assert.equal(notCheckedOnStandby(sink({ type: 'mqtt', client_id: 'plant-7' })), 'its fixed client_id allows one connection');
});
