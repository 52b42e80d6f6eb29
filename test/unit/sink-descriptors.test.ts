import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import YAML from 'yaml';
import { sinkSchema } from '../../src/config/sink-schema.js';
import { sinkTypes } from '../../src/sinks/registry.js';
import { ROOT } from '../support/bridge.js';
import { loadSinkConfig } from '../support/sink-config.js';

/** Each type's own keys as config/example.yaml gives them (it has a sink of every type), without the common tunables. */
const own: Record<string, Record<string, unknown>> = Object.fromEntries(
  (YAML.parse(readFileSync(path.join(ROOT, 'config', 'example.yaml'), 'utf8')) as { sinks: Record<string, unknown>[] }).sinks.map((raw) => {
    const { name: _name, batch: _batch, max_batch: _maxBatch, max_in_flight: _maxInFlight, ...keys } = raw;
    return [String(raw.type), keys];
  }),
);

describe('sink descriptors', () => {
  test('config/example.yaml has a sink of every registered type', () => {
    assert.deepEqual(Object.keys(own).sort(), [...sinkTypes.keys()].sort());
  });

  for (const [type, descriptor] of sinkTypes) {
    test(`${type}: batch and max_in_flight default to the type's own values`, () => {
      const config = loadSinkConfig({ name: 's', type, ...own[type] });
      assert.deepEqual(config.batch, descriptor.defaults.batch);
      assert.equal(config.max_in_flight, descriptor.defaults.max_in_flight);
      assert.equal(config.max_batch, descriptor.defaults.batch.max_events);
    });

    test(`${type}: batch.*, max_in_flight and the max_batch alias are taken`, () => {
      const batched = loadSinkConfig({ name: 's', type, ...own[type], batch: { max_events: 7, max_wait_ms: 3 }, max_in_flight: 2 });
      assert.deepEqual([batched.batch, batched.max_batch, batched.max_in_flight], [{ max_events: 7, max_wait_ms: 3 }, 7, 2]);
      const aliased = loadSinkConfig({ name: 's', type, ...own[type], max_batch: 9 });
      assert.deepEqual([aliased.batch.max_events, aliased.max_batch], [9, 9]);
      const both = loadSinkConfig({ name: 's', type, ...own[type], max_batch: 9, batch: { max_events: 9 } });
      assert.equal(both.batch.max_events, 9);
    });
  }

  test('max_batch and batch.max_events that disagree are refused, naming both', () => {
    assert.throws(
      () => loadSinkConfig({ name: 's', type: 'amqp', ...own.amqp, max_batch: 10, batch: { max_events: 20 } }),
      /sinks\[0\]\.max_batch: is an alias of batch\.max_events, which says 20/,
    );
  });

  test('a type cannot declare a common key again (it sets defaults instead)', () => {
    const schema = { max_in_flight: { doc: 'x', format: 'positive-int', default: 1 } };
    assert.throws(
      () => sinkSchema({ type: 'x', schema, defaults: { batch: { max_events: 1, max_wait_ms: 0 }, max_in_flight: 1 } }),
      /sink type x declares the common key max_in_flight/,
    );
  });
});
