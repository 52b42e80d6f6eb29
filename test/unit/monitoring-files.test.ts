/**
 * deploy/prometheus/alerts.yaml is checked and its firing tested by promtool
 * (Debian's prometheus package); it and deploy/grafana/pgbridge.json may only
 * use metrics pgbridge exports.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import YAML from 'yaml';
import { Metrics } from '../../src/metrics.js';
import { ROOT } from '../support/bridge.js';

const rulesDir = path.join(ROOT, 'deploy', 'prometheus');
/** Registered by wal mode's source; listed here until then. */
const WAL_METRICS = ['pgbridge_replication_lag_bytes'];

function promtool(...args: string[]) {
  const result = spawnSync('promtool', args, { cwd: rulesDir, encoding: 'utf8', timeout: 120_000 });
  assert.ifError(result.error);
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

async function exported(): Promise<Set<string>> {
  const metrics = new Metrics('test');
  const names = (await metrics.registry.getMetricsAsJSON()).map((m) => m.name);
  return new Set([...names, ...WAL_METRICS]);
}

/** pgbridge_* names in a PromQL expression, histogram suffixes removed. */
function metricNames(expr: string): string[] {
  return [...expr.matchAll(/\bpgbridge_[a-z_]+/g)].map((m) => m[0].replace(/_(bucket|sum|count)$/, ''));
}

interface Rule {
  alert: string;
  expr: string;
  for?: string;
}

const rules = (YAML.parse(readFileSync(path.join(rulesDir, 'alerts.yaml'), 'utf8')) as { groups: { rules: Rule[] }[] }).groups.flatMap(
  (g) => g.rules,
);

test('promtool check rules accepts the alert rules', () => {
  const { status, output } = promtool('check', 'rules', 'alerts.yaml');
  assert.equal(status, 0, output);
  assert.match(output, new RegExp(`SUCCESS: ${rules.length} rules found`));
});

test('promtool test rules: every alert fires when it should and stays quiet when it should not', () => {
  const { status, output } = promtool('test', 'rules', 'alerts.test.yaml');
  assert.equal(status, 0, output);
  const tests = YAML.parse(readFileSync(path.join(rulesDir, 'alerts.test.yaml'), 'utf8')) as {
    tests: { alert_rule_test: { alertname: string; exp_alerts: unknown[] }[] }[];
  };
  const cases = tests.tests.flatMap((t) => t.alert_rule_test);
  for (const rule of rules) {
    assert.ok(
      cases.some((c) => c.alertname === rule.alert && c.exp_alerts.length > 0),
      `${rule.alert}: no test where it fires`,
    );
  }
});

test('the alerts cover the failures the issue names', () => {
  const names = rules.map((r) => r.alert);
  for (const wanted of [
    'PgbridgeSinkFailing',
    'PgbridgeBacklogGrowing',
    'PgbridgeOldestPendingGrowing',
    'PgbridgeDeadLetters',
    'PgbridgeReplicationLag',
    'PgbridgeNoInstanceDelivering',
  ]) {
    assert.ok(names.includes(wanted), wanted);
  }
  assert.equal(rules.find((r) => r.alert === 'PgbridgeSinkFailing')?.for, '5m');
});

test('alert rules and the Grafana dashboard use only metrics pgbridge exports', async () => {
  const known = await exported();
  const dashboard = JSON.parse(readFileSync(path.join(ROOT, 'deploy', 'grafana', 'pgbridge.json'), 'utf8')) as {
    panels: { title: string; type: string; targets?: { expr: string }[] }[];
  };
  const exprs = [...rules.map((r) => r.expr), ...dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr))];
  for (const expr of exprs) for (const name of metricNames(expr)) assert.ok(known.has(name), `${name} (in ${expr}) is not exported`);
  const used = new Set(exprs.flatMap(metricNames));
  for (const name of [
    'pgbridge_deliveries_total',
    'pgbridge_end_to_end_lag_seconds',
    'pgbridge_outbox_backlog',
    'pgbridge_dead_letters_total',
    'pgbridge_replication_lag_bytes',
    'pgbridge_oldest_pending_seconds',
  ]) {
    assert.ok(used.has(name), `the dashboard or the rules do not show ${name}`);
  }
  const titles = dashboard.panels.map((p) => p.title.toLowerCase()).join(' | ');
  for (const topic of ['delivered /s', 'lag', 'backlog', 'retried', 'dead letters'])
    assert.ok(titles.includes(topic), `no panel about ${topic}: ${titles}`);
});
