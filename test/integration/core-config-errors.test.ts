/**
 * Config errors through the real CLI: exit status 2 and one message on stderr
 * naming the file, the key path and what is wrong; no stack trace, nothing on
 * stdout. Plus ${VAR} and ${VAR:-default} doing their job.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sinkModules } from '../../src/sinks/registry.js';
import { cli, writeConfig } from '../support/bridge.js';
import { PG_ADMIN_URL } from '../support/pg.js';
import { WebhookServer } from '../support/webhook-server.js';

const UNSET = 'PGBRIDGE_TEST_SURELY_UNSET_VARIABLE';
delete process.env[UNSET];

type Json = Record<string, unknown>;

function base(overrides: Json = {}, sink: Json = {}): Json {
  return {
    postgres: { url: PG_ADMIN_URL },
    capture: [{ table: 'public.orders' }],
    sinks: [{ name: 'hooks', type: 'webhook', url: 'http://127.0.0.1:9/hook', ...sink }],
    http: { port: 0 },
    ...overrides,
  };
}

/** Runs `pgbridge check` on the config and asserts the one-line config error. */
async function configError(config: Json | string, ext: string, keyPath: string | null, what: RegExp, env: NodeJS.ProcessEnv = {}): Promise<string> {
  const file = writeConfig(config, ext);
  const result = await cli(['check', '-c', file], env);
  assert.equal(result.code, 2, `exit status 2, got ${result.code}\n${result.stdout}${result.stderr}`);
  assert.equal(result.stdout, '', 'nothing on stdout');
  const lines = result.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one line on stderr:\n${result.stderr}`);
  const [line] = lines;
  assert.ok(line.includes(file), `names the file: ${line}`);
  if (keyPath !== null) assert.ok(line.includes(`${keyPath}: `), `names the key path ${keyPath}: ${line}`);
  assert.match(line, what);
  assert.doesNotMatch(result.stderr, /\n\s+at |Error:|node:internal/, 'no stack trace');
  return line;
}

describe('config errors (exit 2, one message)', () => {
  test('a missing required key: sinks[0].url', async () => {
    const config = base();
    delete (config.sinks as Json[])[0].url;
    await configError(config, '.json', 'sinks[0].url', /is required/);
  });

  test('a missing key in YAML', async () => {
    await configError(`postgres:\n  url: ${PG_ADMIN_URL}\ncapture:\n  - table: orders\nsinks:\n  - type: webhook\n    url: http://127.0.0.1:9/\n`, '.yaml', 'sinks[0].name', /is required/);
  });

  test('a wrong type: a string for a number, a string for a list, a string for a port, a number for a section', async () => {
    await Promise.all([
      configError(base({}, { timeout_ms: 'fast' }), '.json', 'sinks[0].timeout_ms', /must be a whole number/),
      configError(base({ capture: 'public.orders' }), '.json', 'capture', /must be a list/),
      configError(base({ http: { port: 'eighty' } }), '.json', 'http.port', /port/),
      configError(base({}, { retry: 5 }), '.json', 'sinks[0].retry', /must be a map/),
      configError(base({ log: { pretty: 'yes' } }), '.json', 'log.pretty', /true or false/),
      configError(base({ capture: [{ table: 'orders', ops: 'insert' }] }), '.json', 'capture[0].ops', /list/),
    ]);
  });

  test('an unknown key, at the top and nested', async () => {
    await Promise.all([
      configError(base({ retries: 3 }), '.json', 'retries', /unknown key/),
      configError(base({}, { timeout: 100 }), '.json', 'sinks[0].timeout', /unknown key/),
      configError(base({ capture: [{ table: 'orders', colums: ['id'] }] }), '.json', 'capture[0].colums', /unknown key/),
    ]);
  });

  test('a route to a sink that does not exist', async () => {
    await configError(base({ routes: [{ from: { table: 'public.orders' }, to: ['hooks', 'nope'] }] }), '.json', 'routes[0].to[1]', /no sink named "nope"/);
  });

  test('an unset ${VAR} names the variable and where it is used', async () => {
    const line = await configError(base({}, { url: `\${${UNSET}}` }), '.json', 'sinks[0].url', new RegExp(`${UNSET} is not set`));
    assert.ok(!line.includes('http://'), line);
  });

  test('a YAML syntax error names the line', async () => {
    await configError('capture:\n  - table: orders\nsinks:\n  - name: a\n   type: webhook\n', '.yaml', null, /invalid YAML \(line \d+, column \d+\)/);
    await configError('sinks: [a\n', '.yml', null, /invalid YAML/);
  });

  test('a JSON syntax error', async () => {
    await configError('{"sinks": [}', '.json', null, /invalid JSON/);
  });

  test('empty sinks', async () => {
    await configError(base({ sinks: [] }), '.json', 'sinks', /at least one sink/);
  });

  test('duplicate sink names', async () => {
    await configError(base({ sinks: [{ name: 'a', type: 'stdout' }, { name: 'a', type: 'webhook', url: 'http://127.0.0.1:9/' }] }), '.json', 'sinks[1].name', /duplicate sink name "a"/);
  });

  test('an unknown sink type lists the known ones', async () => {
    await configError(base({ sinks: [{ name: 'a', type: 'smtp' }] }), '.json', 'sinks[0].type', /unknown sink type "smtp".*webhook/);
  });

  test('an unknown placeholder in a routing key or topic template', async (t) => {
    if (!sinkModules.has('amqp') && !sinkModules.has('kafka')) return t.skip('no amqp or kafka sink registered');
    if (sinkModules.has('amqp')) {
      await configError(
        base({ sinks: [{ name: 'q', type: 'amqp', url: 'amqp://127.0.0.1:9', exchange: 'events', routing_key: '{schema}.{tabel}' }] }),
        '.json',
        'sinks[0].routing_key',
        /unknown placeholder \{tabel\}/,
      );
    }
    if (sinkModules.has('kafka')) {
      await configError(
        base({ sinks: [{ name: 'k', type: 'kafka', brokers: ['127.0.0.1:9'], topic: 'cdc.{database}' }] }),
        '.json',
        'sinks[0].topic',
        /unknown placeholder \{database\}/,
      );
    }
  });

  test('an invalid URL, and a URL of the wrong scheme; a password in it is not printed', async () => {
    const [line] = await Promise.all([
      configError(base({}, { url: 'http://user:pa55w0rd@bad host/' }), '.json', 'sinks[0].url', /not a valid URL/),
      configError(base({}, { url: 'ftp://127.0.0.1/' }), '.json', 'sinks[0].url', /http:\/\/ or https:\/\//),
      configError(base({ postgres: { url: 'mysql://127.0.0.1/db' } }), '.json', 'postgres.url', /postgres:\/\//),
    ]);
    assert.ok(!line.includes('pa55w0rd'), line);
  });

  test('a wrong table name', async () => {
    await configError(base({ capture: [{ table: 'a.b.c' }] }), '.json', 'capture[0].table', /schema\.table/);
  });

  test('a file that does not exist', async () => {
    const result = await cli(['check', '-c', '/nonexistent/pgbridge.yaml']);
    assert.equal(result.code, 2);
    assert.equal(result.stderr.trimEnd().split('\n').length, 1);
    assert.match(result.stderr, /\/nonexistent\/pgbridge\.yaml: file not found/);
  });
});

describe('${VAR} and ${VAR:-default}', () => {
  let server: WebhookServer;
  let url: string;

  before(async () => {
    server = new WebhookServer();
    url = await server.start();
  });
  after(() => server.stop());

  test('an unset variable with a default takes the default', async () => {
    const file = writeConfig(
      `postgres:\n  url: \${${UNSET}_DB:-${PG_ADMIN_URL}}\ncapture:\n  - table: orders\nsinks:\n  - name: hooks\n    type: webhook\n    url: \${${UNSET}:-${url}}\n    timeout_ms: \${${UNSET}_TIMEOUT:-2000}\nhttp:\n  port: 0\n`,
      '.yaml',
    );
    const result = await cli(['check', '-c', file]);
    assert.notEqual(result.code, 2, result.stderr);
    assert.match(result.stdout, /^config: ok/m);
    assert.match(result.stdout, /^postgres: ok/m);
    assert.match(result.stdout, /^sink hooks: ok \(webhook\)$/m);
  });

  test('a set variable wins over the default, in any string', async () => {
    const file = writeConfig(base({ postgres: { url: '${PGB_TEST_DB}' } }, { url: '${PGB_TEST_HOOK:-http://127.0.0.1:9/unused}' }));
    const result = await cli(['check', '-c', file], { PGB_TEST_HOOK: url, PGB_TEST_DB: PG_ADMIN_URL });
    assert.notEqual(result.code, 2, result.stderr);
    assert.match(result.stdout, /^postgres: ok/m);
    assert.match(result.stdout, /^sink hooks: ok \(webhook\)$/m);
  });
});
