import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { BridgeStatus } from '../../src/app.js';
import type { BridgeConfig } from '../../src/config/types.js';
import type { DatabaseFacts } from '../../src/console/database-facts.js';
import { sampleStatusGauges } from '../../src/console/status-gauges.js';
import { Metrics } from '../../src/metrics.js';

const config = { instance: 'default', sinks: [{ name: 'a', type: 'webhook' }] } as unknown as BridgeConfig;
const status: BridgeStatus = { role: 'delivering', sinks: new Map() };
const facts: DatabaseFacts = {
  installed: true,
  outboxBacklog: 5,
  sinks: new Map([['a', { backlog: 5, oldestPendingSeconds: 12 }]]),
  deadLetters: new Map(),
  tables: [],
  lockHeld: true,
  replicationLagBytes: null,
};

test('status gauges: role and failing at once, the database facts (heavy outbox queries) only from the first tick on', async () => {
  const metrics = new Metrics('test');
  let asked = 0;
  const stop = sampleStatusGauges(
    config,
    metrics,
    () => status,
    async () => {
      asked++;
      return facts;
    },
    20,
  );
  try {
    assert.equal((await metrics.instanceDelivering.get()).values[0]?.value, 1);
    assert.equal((await metrics.sinkFailing.get()).values[0]?.value, 0);
    assert.equal(asked, 0, 'no database query at startup');
    for (let i = 0; i < 500 && (await metrics.oldestPending.get()).values.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(asked >= 1);
    assert.equal((await metrics.oldestPending.get()).values[0]?.value, 12);
  } finally {
    stop();
  }
});

test('status gauges without Postgres: a failing sink stays failing, and the oldest pending event grows older', async () => {
  const metrics = new Metrics('test');
  let now: BridgeStatus = {
    role: 'delivering',
    sinks: new Map([['a', { state: 'retrying', queued: 1, onlyInMemory: 0, failingSince: 1, lastError: 'HTTP 500', oldestHeld: null }]]),
  };
  const stop = sampleStatusGauges(
    config,
    metrics,
    () => now,
    async () => facts,
    20,
  );
  try {
    for (let i = 0; i < 500 && (await metrics.oldestPending.get()).values.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal((await metrics.sinkFailing.get()).values[0]?.value, 1);
    now = { role: 'disconnected', sinks: new Map() };
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await metrics.sinkFailing.get()).values[0]?.value, 1, 'not cleared by the outage');
    const age = (await metrics.oldestPending.get()).values[0]?.value ?? 0;
    assert.ok(age > 12.1, `the age goes on: ${age}`);
  } finally {
    stop();
  }
});

test('status gauges: a takeover and a failing sink show at the next scrape, not at the next sample', async () => {
  const metrics = new Metrics('test');
  let now: BridgeStatus = { role: 'standby', sinks: new Map() };
  const stop = sampleStatusGauges(
    config,
    metrics,
    () => now,
    async () => facts,
    3_600_000,
  );
  const scrape = async (): Promise<string> => metrics.registry.metrics();
  try {
    assert.match(await scrape(), /^pgbridge_instance_delivering\{bridge="default"\} 0$/m);
    now = {
      role: 'delivering',
      sinks: new Map([['a', { state: 'down', queued: 0, onlyInMemory: 0, failingSince: 1, lastError: 'refused', oldestHeld: null }]]),
    };
    let text = await scrape();
    assert.match(text, /^pgbridge_instance_delivering\{bridge="default"\} 1$/m);
    assert.match(text, /^pgbridge_sink_failing\{sink="a"\} 1$/m);
    now = { role: 'delivering', sinks: new Map() };
    text = await scrape();
    assert.match(text, /^pgbridge_sink_failing\{sink="a"\} 0$/m);
  } finally {
    stop();
  }
  now = { role: 'standby', sinks: new Map() };
  assert.match(await scrape(), /^pgbridge_instance_delivering\{bridge="default"\} 1$/m, 'stopped: no longer read');
});
