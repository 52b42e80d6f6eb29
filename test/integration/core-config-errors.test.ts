/**
 * Config errors through the real CLI, as a matrix of bad configs each given
 * to `check` and to `run`: exit status 2 and one message on stderr naming the
 * file, the key path and what is wrong; no stack trace, nothing on stdout, no
 * password from the bad value. Plus ${VAR} and ${VAR:-default} doing their job.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
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

/** What a bad config must produce: the key path named in the one line (null: the file as a whole) and the problem. */
interface BadConfig {
  readonly name: string;
  readonly config: Json | string;
  readonly ext?: string;
  readonly keyPath: string | null;
  readonly what: RegExp;
  /** Text that must not be printed (a password in the bad value). */
  readonly hidden?: string;
  /** Also through `run` (one or two per kind of problem: both commands share the loader). */
  readonly run?: boolean;
}

const withSink = (sink: Json): Json => base({ sinks: [sink] });
const amqp = (extra: Json): Json => withSink({ name: 'q', type: 'amqp', url: 'amqp://127.0.0.1:9', exchange: 'events', ...extra });
const kafka = (extra: Json): Json => withSink({ name: 'k', type: 'kafka', brokers: ['127.0.0.1:9'], ...extra });
const noUrl = base();
delete (noUrl.sinks as Json[])[0].url;

const MATRIX: readonly BadConfig[] = [
  // missing and wrong types
  { name: 'a missing required key', run: true, config: noUrl, keyPath: 'sinks[0].url', what: /is required/ },
  {
    name: 'a missing key in YAML',
    config: `postgres:\n  url: ${PG_ADMIN_URL}\ncapture:\n  - table: orders\nsinks:\n  - type: webhook\n    url: http://127.0.0.1:9/\n`,
    ext: '.yaml',
    keyPath: 'sinks[0].name',
    what: /is required/,
  },
  {
    name: 'a string for a number',
    run: true,
    config: base({}, { timeout_ms: 'fast' }),
    keyPath: 'sinks[0].timeout_ms',
    what: /must be a whole number/,
  },
  { name: 'a negative number', config: base({}, { timeout_ms: -5 }), keyPath: 'sinks[0].timeout_ms', what: /at least 1, got -5/ },
  { name: 'zero events per batch', config: base({}, { batch: { max_events: 0 } }), keyPath: 'sinks[0].batch.max_events', what: /at least 1/ },
  { name: 'a string for a list', config: base({ capture: 'public.orders' }), keyPath: 'capture', what: /must be a list/ },
  { name: 'a string for a port', config: base({ http: { port: 'eighty' } }), keyPath: 'http.port', what: /port/ },
  { name: 'a port out of range', config: base({ http: { port: 70000 } }), keyPath: 'http.port', what: /0 - 65535/ },
  { name: 'a number for a section', config: base({}, { retry: 5 }), keyPath: 'sinks[0].retry', what: /must be a map/ },
  { name: 'a string for a boolean', config: base({ log: { pretty: 'yes' } }), keyPath: 'log.pretty', what: /true or false/ },
  { name: 'a string for ops', config: base({ capture: [{ table: 'orders', ops: 'insert' }] }), keyPath: 'capture[0].ops', what: /list/ },
  {
    name: 'an unknown op',
    run: true,
    config: base({ capture: [{ table: 'orders', ops: ['merge'] }] }),
    keyPath: 'capture[0].ops',
    what: /unknown op "merge"; use insert, update, delete, truncate/,
  },
  {
    name: 'a number for columns',
    config: base({ capture: [{ table: 'orders', columns: 5 }] }),
    keyPath: 'capture[0].columns',
    what: /"\*" or a non-empty list/,
  },
  {
    name: 'a number as a header value',
    config: base({}, { headers: { 'X-Key': 5 } }),
    keyPath: 'sinks[0].headers.X-Key',
    what: /headers\.X-Key: must be a string, got number$/,
  },
  {
    name: 'a number in a list of names',
    config: base({ routes: [{ from: { table: 'public.orders' }, to: ['hooks', 5] }] }),
    keyPath: 'routes[0].to[1]',
    what: /to\[1\]: must be a non-empty string$/,
  },
  { name: 'an empty secret', config: base({}, { secret: '' }), keyPath: 'sinks[0].secret', what: /must be a secret/ },
  {
    name: 'a secret that is not base64',
    run: true,
    config: base({}, { secret: 'whsec_!!!' }),
    keyPath: 'sinks[0].secret',
    what: /must be whsec_ followed by the key in base64/,
    hidden: '!!!',
  },
  {
    name: 'a passphrase as the secret',
    config: base({}, { secret: 'TopSecretG' }),
    keyPath: 'sinks[0].secret',
    what: /must be whsec_ followed by the key in base64/,
    hidden: 'TopSecretG',
  },
  { name: 'a secret with no key after whsec_', config: base({}, { secret: 'whsec_' }), keyPath: 'sinks[0].secret', what: /holds no key/ },
  {
    name: 'a bad secret in a rotation list',
    config: base({}, { secret: ['whsec_c2VjcmV0LWtleQ==', 'whsec_c2VjcmV0LWtleQ'] }),
    keyPath: 'sinks[0].secret[1]',
    what: /padded with =/,
    hidden: 'c2VjcmV0LWtleQ',
  },
  { name: 'a value not in the list (delivery)', run: true, config: base({ delivery: 'bogus' }), keyPath: 'delivery', what: /outbox.*notify/ },
  { name: 'a value not in the list (method)', config: base({}, { method: 'GET' }), keyPath: 'sinks[0].method', what: /POST.*PUT/ },
  { name: 'a value not in the list (format)', config: base({}, { format: 'xml' }), keyPath: 'sinks[0].format', what: /pgbridge.*skor.*cloudevents/ },
  { name: 'a value not in the list (log level)', config: base({ log: { level: 'loud' } }), keyPath: 'log.level', what: /info/ },
  { name: 'an instance name that is no identifier', config: base({ instance: 'a b;' }), keyPath: 'instance', what: /lower-case letters/ },
  {
    name: 'a channel name Postgres would truncate',
    run: true,
    config: base({ channels: [{ name: 'c'.repeat(64) }] }),
    keyPath: 'channels[0].name',
    what: /at most 63 bytes, got 64/,
  },
  // unknown keys
  { name: 'an unknown key at the top', config: base({ retries: 3 }), keyPath: 'retries', what: /unknown key/ },
  { name: 'an unknown key in a sink', run: true, config: base({}, { timeout: 100 }), keyPath: 'sinks[0].timeout', what: /unknown key/ },
  {
    name: 'an unknown key in a capture',
    config: base({ capture: [{ table: 'orders', colums: ['id'] }] }),
    keyPath: 'capture[0].colums',
    what: /unknown key/,
  },
  // sinks
  { name: 'empty sinks', run: true, config: base({ sinks: [] }), keyPath: 'sinks', what: /at least one sink/ },
  { name: 'null sinks', config: base({ sinks: null }), keyPath: 'sinks', what: /at least one sink/ },
  {
    name: 'duplicate sink names',
    run: true,
    config: base({
      sinks: [
        { name: 'a', type: 'stdout' },
        { name: 'a', type: 'webhook', url: 'http://127.0.0.1:9/' },
      ],
    }),
    keyPath: 'sinks[1].name',
    what: /duplicate sink name "a"/,
  },
  { name: 'a sink name with a space', config: base({}, { name: 'a b' }), keyPath: 'sinks[0].name', what: /letters, digits/ },
  {
    name: 'an unknown sink type',
    config: base({ sinks: [{ name: 'a', type: 'smtp' }] }),
    keyPath: 'sinks[0].type',
    what: /unknown sink type "smtp".*webhook/,
  },
  { name: 'an amqp sink without exchange', config: amqp({ exchange: undefined }), keyPath: 'sinks[0].exchange', what: /is required/ },
  {
    name: 'a kafka broker without a port',
    config: kafka({ brokers: ['nohostport'] }),
    keyPath: 'sinks[0].brokers',
    what: /"nohostport" is not host:port/,
  },
  { name: 'no kafka brokers', config: kafka({ brokers: [] }), keyPath: 'sinks[0].brokers', what: /non-empty list/ },
  {
    name: 'an unknown sasl mechanism',
    config: kafka({ sasl: { mechanism: 'md5', username: 'u', password: 'hunter2-sasl' } }),
    keyPath: 'sinks[0].sasl.mechanism',
    what: /"md5"/,
    hidden: 'hunter2-sasl',
  },
  {
    name: 'a misspelt TLS option of a kafka sink',
    config: kafka({ ssl: { rejectUnauthorised: false } }),
    keyPath: 'sinks[0].ssl.rejectUnauthorised',
    what: /is not an option of Node's tls\.connect/,
  },
  {
    name: 'a misspelt TLS option of an mqtt sink',
    config: withSink({ name: 'm', type: 'mqtt', url: 'mqtts://127.0.0.1:9', tls: { cafile: '/etc/ssl/ca.pem' } }),
    keyPath: 'sinks[0].tls.cafile',
    what: /is not an option of Node's tls\.connect; use ca, /,
  },
  {
    name: 'a misspelt TLS option of a redis sink',
    config: withSink({ name: 'r', type: 'redis', url: 'rediss://127.0.0.1:9', tls: { server_name: 'cache' } }),
    keyPath: 'sinks[0].tls.server_name',
    what: /is not an option of Node's tls\.connect/,
  },
  // routes
  {
    name: 'a route to a sink that does not exist',
    config: base({ routes: [{ from: { table: 'public.orders' }, to: ['hooks', 'nope'] }] }),
    keyPath: 'routes[0].to[1]',
    what: /no sink named "nope"/,
  },
  {
    name: 'a route from a table not captured',
    run: true,
    config: base({ routes: [{ from: { table: 'public.other' }, to: ['hooks'] }] }),
    keyPath: 'routes[0].from.table',
    what: /public\.other is not in capture/,
  },
  {
    name: 'a route from a channel not forwarded',
    config: base({ routes: [{ from: { channel: 'nope' }, to: ['hooks'] }] }),
    keyPath: 'routes[0].from.channel',
    what: /nope is not in channels/,
  },
  {
    name: 'a route from a table and a channel',
    config: base({ routes: [{ from: { table: 'public.orders', channel: 'x' }, to: ['hooks'] }] }),
    keyPath: 'routes[0].from',
    what: /either table/,
  },
  {
    name: 'a route to nobody',
    config: base({ routes: [{ from: { table: 'public.orders' }, to: [] }] }),
    keyPath: 'routes[0].to',
    what: /non-empty list/,
  },
  // templates
  {
    name: 'an unknown placeholder in a routing key',
    config: amqp({ routing_key: '{schema}.{tabel}' }),
    keyPath: 'sinks[0].routing_key',
    what: /unknown placeholder \{tabel\}/,
  },
  {
    name: 'an unknown placeholder in a topic',
    run: true,
    config: kafka({ topic: 'cdc.{database}' }),
    keyPath: 'sinks[0].topic',
    what: /unknown placeholder \{database\}/,
  },
  // URLs
  {
    name: 'an invalid URL with a password in it',
    config: base({}, { url: 'http://user:pa55w0rd@bad host/' }),
    keyPath: 'sinks[0].url',
    what: /not a valid URL/,
    hidden: 'pa55w0rd',
  },
  {
    name: 'a webhook URL of the wrong scheme',
    config: base({}, { url: 'ftp://127.0.0.1/' }),
    keyPath: 'sinks[0].url',
    what: /http:\/\/ or https:\/\//,
  },
  {
    name: 'an amqp URL of the wrong scheme',
    run: true,
    config: amqp({ url: 'http://guest:s3cr3t-amqp@127.0.0.1/' }),
    keyPath: 'sinks[0].url',
    what: /amqp:\/\/ or amqps:\/\//,
    hidden: 's3cr3t-amqp',
  },
  {
    name: 'a Postgres URL of the wrong scheme',
    config: base({ postgres: { url: 'mysql://127.0.0.1/db' } }),
    keyPath: 'postgres.url',
    what: /postgres:\/\//,
  },
  { name: 'an unparsable Postgres URL', config: base({ postgres: { url: 'postgres://[bad' } }), keyPath: 'postgres.url', what: /not a valid URL/ },
  { name: 'a wrong table name', config: base({ capture: [{ table: 'a.b.c' }] }), keyPath: 'capture[0].table', what: /schema\.table/ },
  {
    name: 'a table captured twice',
    config: base({ capture: [{ table: 'orders' }, { table: 'public.orders' }] }),
    keyPath: 'capture[1].table',
    what: /captured twice/,
  },
  // environment
  {
    name: 'an unset ${VAR}',
    run: true,
    config: base({}, { url: `\${${UNSET}}` }),
    keyPath: 'sinks[0].url',
    what: new RegExp(`${UNSET} is not set`),
    hidden: 'http://',
  },
  // the file itself
  {
    name: 'a YAML syntax error',
    run: true,
    config: 'capture:\n  - table: orders\nsinks:\n  - name: a\n   type: webhook\n',
    ext: '.yaml',
    keyPath: null,
    what: /invalid YAML \(line \d+, column \d+\)/,
  },
  { name: 'an unclosed YAML list', config: 'sinks: [a\n', ext: '.yml', keyPath: null, what: /invalid YAML/ },
  { name: 'a YAML key given twice', config: 'sinks: []\nsinks: []\n', ext: '.yaml', keyPath: null, what: /invalid YAML.*keys must be unique/ },
  { name: 'an empty YAML file', config: '', ext: '.yaml', keyPath: null, what: /the file is empty/ },
  { name: 'a YAML list instead of a map', config: '- a\n- b\n', ext: '.yaml', keyPath: null, what: /must be a map, got a list/ },
  {
    name: 'a YAML escape a string cannot hold',
    config: 'sinks:\n  - name: h\n    secret: "whsec_\\pa55w0rd"\n',
    ext: '.yaml',
    keyPath: null,
    what: /invalid YAML \(line 3, column 20\): an invalid escape sequence in a double-quoted string$/,
    hidden: '\\p',
  },
  {
    name: 'a YAML alias with no anchor',
    run: true,
    config: 'sinks:\n  - name: h\n    secret: *pa55w0rd\n',
    ext: '.yaml',
    keyPath: null,
    what: /invalid YAML \(line 3, column 13\): an alias \(\*\) with no anchor \(&\) before it$/,
    hidden: 'pa55w0rd',
  },
  { name: 'a JSON syntax error', run: true, config: '{"sinks": [}', keyPath: null, what: /invalid JSON \(line 1, column 12\)$/, hidden: 'sinks' },
  {
    name: 'a JSON syntax error at an unquoted secret',
    run: true,
    config: '{\n  "sinks": [{"name": "h", "type": "webhook", "url": "http://127.0.0.1:9/", "secret": whsec_pa55w0rd}]\n}\n',
    keyPath: null,
    what: /invalid JSON \(line 2, column 86\)$/,
    hidden: 'whsec',
  },
  { name: 'a JSON string instead of a map', config: '"hello"', keyPath: null, what: /must be a map/ },
  {
    name: 'a JSON key given twice',
    run: true,
    config: `{\n  "postgres": {"url": "${PG_ADMIN_URL}"},\n  "capture": ["orders"],\n  "sinks": [{"name": "a", "type": "stdout"}],\n  "sinks": [{"name": "b", "type": "stdout"}]\n}\n`,
    keyPath: null,
    what: /invalid JSON \(line 5, column 3\): map keys must be unique; "sinks" is given twice$/,
  },
];

/** Runs `pgbridge <command>` on the config and asserts the one-line config error. */
async function configError(command: string, bad: BadConfig): Promise<void> {
  const file = writeConfig(bad.config, bad.ext ?? '.json');
  const result = await cli([command, '-c', file]);
  const where = `pgbridge ${command}: ${bad.name}`;
  assert.equal(result.code, 2, `${where}: exit status 2, got ${result.code}\n${result.stdout}${result.stderr}`);
  assert.equal(result.stdout, '', `${where}: nothing on stdout`);
  const lines = result.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `${where}: one line on stderr:\n${result.stderr}`);
  const [line] = lines;
  assert.ok(line.includes(file), `${where}: names the file: ${line}`);
  if (bad.keyPath !== null) assert.ok(line.includes(`${bad.keyPath}: `), `${where}: names the key path ${bad.keyPath}: ${line}`);
  assert.match(line, bad.what, where);
  assert.doesNotMatch(result.stderr, /\n\s+at |Error:|node:internal/, `${where}: no stack trace`);
  if (bad.hidden) assert.ok(!line.includes(bad.hidden), `${where}: prints ${bad.hidden}: ${line}`);
}

describe('config errors: every bad config makes check (and run) exit 2 with one line naming the key path', { concurrency: 4 }, () => {
  for (const bad of MATRIX) {
    test(bad.name, async () => {
      await Promise.all((bad.run ? ['check', 'run'] : ['check']).map((command) => configError(command, bad)));
    });
  }

  test('a file that does not exist', async () => {
    for (const command of ['check', 'run']) {
      const result = await cli([command, '-c', '/nonexistent/pgbridge.yaml']);
      assert.equal(result.code, 2);
      assert.equal(result.stderr.trimEnd().split('\n').length, 1);
      assert.match(result.stderr, /\/nonexistent\/pgbridge\.yaml: file not found/);
    }
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

  test('a file that starts with a byte order mark (as Windows editors save UTF-8) is read, JSON as YAML', async () => {
    const BOM = '\uFEFF';
    const json = writeConfig(BOM + JSON.stringify(base({}, { url })));
    const yaml = writeConfig(
      `${BOM}postgres:\n  url: ${PG_ADMIN_URL}\ncapture: [orders]\nsinks: [{ name: hooks, type: webhook, url: '${url}' }]\nhttp: { port: 0 }\n`,
      '.yaml',
    );
    for (const file of [json, yaml]) {
      const result = await cli(['check', '-c', file]);
      assert.notEqual(result.code, 2, result.stderr);
      assert.match(result.stdout, /^config: ok/m);
      assert.match(result.stdout, /^sink hooks: ok \(webhook\)$/m);
    }
  });

  test('a value that reads as a number or true/false is a string for a string key', async () => {
    const sink = { url, headers: { 'X-Key': '${PGB_TEST_KEY}' }, secret: '${PGB_TEST_SECRET}' };
    const file = writeConfig(base({ http: { port: 0, token: '${PGB_TEST_TOKEN}' } }, sink));
    const env = { PGB_TEST_KEY: '0123', PGB_TEST_TOKEN: '000123', PGB_TEST_SECRET: '12345678' };
    const result = await cli(['check', '-c', file], env);
    assert.notEqual(result.code, 2, result.stderr);
    assert.match(result.stdout, /^config: ok/m);
    assert.match(result.stdout, /^sink hooks: ok \(webhook\)$/m);
  });
});
