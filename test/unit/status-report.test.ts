import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { BridgeConfig } from '../../src/config/types.js';
import type { DatabaseFacts } from '../../src/console/database-facts.js';
import { databaseReport, failingSinks, liveReport } from '../../src/console/status-report.js';

const config = {
  instance: 'default',
  delivery: 'notify',
  http: { port: 9187, host: '127.0.0.1', token: '' },
  sinks: [
    { name: 'a', type: 'webhook' },
    { name: 'b', type: 'kafka' },
  ],
} as unknown as BridgeConfig;

const facts = (lockHeld: boolean): DatabaseFacts => ({
  installed: true,
  outboxBacklog: 7,
  sinks: new Map([
    ['a', { backlog: 5, oldestPendingSeconds: 12 }],
    ['b', { backlog: 2, oldestPendingSeconds: null }],
  ]),
  deadLetters: new Map([['a', 3]]),
  tables: [],
  lockHeld,
  replicationLagBytes: null,
});

test('from the database: stopped when no process holds the lock (failing), unknown when one does', () => {
  const stopped = databaseReport(config, facts(false));
  assert.deepEqual(
    stopped.sinks.map((s) => [s.name, s.state, s.backlog, s.dead_letters]),
    [
      ['a', 'stopped', 5, 3],
      ['b', 'stopped', 2, 0],
    ],
  );
  assert.equal(failingSinks(stopped).length, 2);
  const unknown = databaseReport(config, facts(true));
  assert.equal(unknown.role, 'unknown');
  assert.equal(failingSinks(unknown).length, 0);
});

test('live: runner states, notify mode adds what is held in memory (and its age), no last_error without a token', () => {
  const heldSince = Date.now() - 60_000;
  const report = liveReport(config, {
    bridge: {
      role: 'delivering',
      sinks: new Map([
        // Of the 6 held, 2 were read from the outbox table: counted there already.
        ['a', { state: 'retrying', queued: 6, onlyInMemory: 4, failingSince: 1_000, lastError: 'HTTP 503: {"id":1}', oldestHeld: heldSince }],
        ['b', { state: 'delivering', queued: 0, onlyInMemory: 0, failingSince: null, lastError: null, oldestHeld: null }],
      ]),
    },
    database: facts(true),
    counters: new Map(),
    history: () => [],
  });
  const [a, b] = report.sinks;
  assert.equal(a.state, 'retrying');
  assert.equal(a.backlog, 9);
  assert.ok(
    a.oldest_pending_seconds! >= 60 && a.oldest_pending_seconds! < 70,
    `the event held 60 s, older than the table's 12 s: ${a.oldest_pending_seconds}`,
  );
  assert.equal(report.sinks[1].oldest_pending_seconds, null);
  assert.equal(a.failing_since, new Date(1_000).toISOString());
  assert.ok(!('last_error' in a));
  assert.equal(b.state, 'delivering');
  assert.deepEqual(
    failingSinks(report).map((s) => s.name),
    ['a'],
  );
  const withToken = liveReport(
    { ...config, http: { ...config.http, token: 't0k' } },
    {
      bridge: { role: 'standby', sinks: new Map() },
      database: undefined,
      postgresError: 'connection refused',
      counters: new Map(),
      history: () => [],
    },
  );
  assert.deepEqual(
    withToken.sinks.map((s) => s.state),
    ['standby', 'standby'],
  );
  assert.equal(withToken.postgres, 'unreachable: connection refused');
  assert.equal(withToken.sinks[0].backlog, null);
  assert.equal(withToken.sinks[0].last_error, null);
});
