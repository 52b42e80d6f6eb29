import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { loadConfig, resolveConfigPath } from '../../src/config/load.js';
import { offsetInMessage } from '../../src/config/parse-json.js';
import type { BridgeConfig } from '../../src/config/types.js';
import { ConfigError } from '../../src/errors.js';

const dir = mkdtempSync(path.join(tmpdir(), 'pgbridge-config-'));
let n = 0;

function file(content: string | object, ext = '.yaml'): string {
  const name = path.join(dir, `c${n++}${ext}`);
  writeFileSync(name, typeof content === 'string' ? content : JSON.stringify(content));
  return name;
}

function load(content: string | object, env: NodeJS.ProcessEnv = {}, ext?: string): BridgeConfig {
  return loadConfig(file(content, ext ?? (typeof content === 'string' ? '.yaml' : '.json')), env);
}

/** The problems of a config that must not load, as "path: message". */
function problems(content: string | object, env: NodeJS.ProcessEnv = {}): string[] {
  const name = file(content, typeof content === 'string' ? '.yaml' : '.json');
  try {
    loadConfig(name, env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `a ConfigError, got ${String(err)}`);
    assert.ok(err.message.startsWith(`${name}: `), err.message);
    assert.equal(err.message.includes('\n'), false, 'one line');
    return err.problems.map((p) => (p.path ? `${p.path}: ${p.message}` : p.message));
  }
  assert.fail('the config loaded');
}

const MINIMAL = `
postgres:
  url: postgres://postgres@127.0.0.1:5432/app
capture:
  - table: public.orders
sinks:
  - name: hooks
    type: webhook
    url: http://127.0.0.1:5000/
`;

const base = (extra: object = {}) => ({
  capture: ['orders'],
  sinks: [{ name: 'hooks', type: 'webhook', url: 'http://127.0.0.1:5000/' }],
  ...extra,
});

describe('loadConfig: what a valid file gives', () => {
  test('YAML merge keys: a sink anchored (&) and merged (<<: *) into the next, its own keys winning', () => {
    const config = load(`${MINIMAL}    retry: { max_attempts: 5 }\n    timeout_ms: 2500\n  - &base
    name: audit
    type: webhook
    url: http://127.0.0.1:5001/
    retry: { max_attempts: 7 }
  - <<: *base
    name: audit-copy
    url: http://127.0.0.1:5002/
`);
    const copy = config.sinks.find((s) => s.name === 'audit-copy');
    assert.ok(copy && copy.type === 'webhook');
    assert.equal(copy.url, 'http://127.0.0.1:5002/');
    assert.equal(copy.retry.max_attempts, 7);
  });

  test("the contract's minimal file, with every default", () => {
    const config = load(MINIMAL);
    assert.equal(config.postgres.url, 'postgres://postgres@127.0.0.1:5432/app');
    assert.equal(config.delivery, 'outbox');
    assert.equal(config.instance, 'default');
    assert.equal(config.notifyChannel, 'pgbridge');
    assert.deepEqual(config.channels, []);
    assert.equal(config.routes, null);
    assert.deepEqual(config.http, { port: 9187, host: '0.0.0.0', token: '' });
    assert.deepEqual(config.log, { level: 'info', pretty: false });
    assert.equal(config.shutdownTimeoutMs, 10000);
    const [orders] = config.capture;
    assert.deepEqual([orders.schema, orders.table, [...orders.ops]], ['public', 'orders', ['insert', 'update', 'delete']]);
    assert.deepEqual(orders.columns, { insert: null, update: null, delete: null });
    const [sink] = config.sinks;
    assert.equal(sink.format, 'pgbridge');
    assert.equal(sink.max_in_flight, 4);
    assert.deepEqual(sink.retry, { initial_ms: 200, max_ms: 30000, max_attempts: 0 });
    assert.equal(sink.timeout_ms, 10000);
    assert.deepEqual(sink.batch, { max_events: 1, max_wait_ms: 0 });
  });

  test('JSON works the same as YAML', () => {
    const config = load(base({ delivery: 'notify' }));
    assert.equal(config.delivery, 'notify');
    assert.equal(config.capture[0].table, 'orders');
  });

  test('capture: a bare name, a column list, a per-op map, a subset of ops', () => {
    const config = load(
      base({
        capture: [
          'a',
          { table: 'b', columns: ['id', 'status'] },
          { table: 's.c', ops: ['insert', 'delete'], columns: { insert: '*', update: ['id', 'status'], delete: ['id'] } },
          { table: 'd', columns: '*' },
        ],
      }),
    );
    const [a, b, c, d] = config.capture;
    assert.deepEqual(a.columns, { insert: null, update: null, delete: null });
    assert.deepEqual(b.columns, { insert: ['id', 'status'], update: ['id', 'status'], delete: ['id', 'status'] });
    assert.deepEqual(c.columns, { insert: null, update: ['id', 'status'], delete: ['id'] });
    assert.deepEqual([c.schema, c.table, [...c.ops]], ['s', 'c', ['insert', 'delete']]);
    assert.deepEqual(d.columns, { insert: null, update: null, delete: null });
  });

  test('"a.b".c and a."b.c" are two tables, each captured and routed on its own', () => {
    const config = load(base({ capture: ['"a.b".c', 'a."b.c"'], routes: [{ from: { table: 'a."b.c"' }, to: ['hooks'] }] }));
    assert.deepEqual(
      config.capture.map((t) => [t.schema, t.table]),
      [
        ['a.b', 'c'],
        ['a', 'b.c'],
      ],
    );
  });

  test('routes become table and channel routes; ops default to all, read and truncate included', () => {
    const config = load(
      base({
        capture: ['orders'],
        channels: [{ name: 'jobs' }],
        sinks: [
          { name: 'a', type: 'stdout' },
          { name: 'b', type: 'stdout' },
        ],
        routes: [
          { from: { table: 'public.orders', ops: ['insert'] }, to: ['a'] },
          { from: { table: 'orders' }, to: ['b'] },
          { from: { channel: 'jobs' }, to: ['a', 'b'] },
        ],
      }),
    );
    const routes = config.routes!;
    assert.equal(routes.length, 3);
    assert.deepEqual(routes[0].from.kind === 'table' && [...routes[0].from.ops], ['insert']);
    assert.deepEqual(routes[1].from.kind === 'table' && [...routes[1].from.ops], ['insert', 'update', 'delete', 'truncate', 'read']);
    assert.deepEqual(routes[2], { from: { kind: 'channel', channel: 'jobs' }, to: ['a', 'b'] });
  });

  test('`capture:` left empty in YAML is an empty list, fine with a channel', () => {
    const config = load(`capture:\n  # - table: orders\nchannels:\n  - name: jobs\nsinks:\n  - name: s\n    type: stdout\n`);
    assert.deepEqual(config.capture, []);
    assert.deepEqual(config.channels, ['jobs']);
  });

  test('no postgres url: null (libpq PG* variables apply)', () => {
    assert.equal(load(base()).postgres.url, null);
    assert.equal(load(base({ postgres: { url: '' } })).postgres.url, null);
  });
});

describe('loadConfig: ${VAR} and ${VAR:-default}', () => {
  test('replaced in any string, anywhere in the text', () => {
    const config = load(
      `postgres:\n  url: postgres://app:\${PW}@\${HOST:-localhost}:5432/app\ncapture: [orders]\nsinks:\n  - name: h\n    type: webhook\n    url: \${URL}\n    headers:\n      Authorization: Bearer \${TOKEN}\n`,
      {
        PW: 'p',
        URL: 'http://hooks.example/in',
        TOKEN: 't0k',
      },
    );
    assert.equal(config.postgres.url, 'postgres://app:p@localhost:5432/app');
    assert.equal(config.sinks[0].url, 'http://hooks.example/in');
    assert.deepEqual(config.sinks[0].headers, { Authorization: 'Bearer t0k' });
  });

  test('a whole-value reference to a number or a boolean takes that type', () => {
    const config = load(`${MINIMAL}http:\n  port: \${PORT}\nlog:\n  pretty: \${PRETTY:-false}\n`, { PORT: '9999' });
    assert.equal(config.http.port, 9999);
    assert.equal(config.log.pretty, false);
  });

  test('a whole reference stays the exact string where the key takes a string, however it looks', () => {
    const sinks = [
      { name: 'h', type: 'webhook', url: 'http://127.0.0.1:5000/', headers: { 'X-Key': '${K}' } },
      { name: 'm', type: 'mqtt', url: 'mqtt://127.0.0.1:1883', username: '${U}', password: '${MP}' },
      { name: 'k', type: 'kafka', brokers: ['k:9092'], sasl: { mechanism: 'plain', username: '${U}', password: '${MP}' } },
      { name: 'n', type: 'nats', url: 'nats://127.0.0.1:4222', token: '${T}' },
    ];
    const env = { K: '0123', U: 'true', MP: '123456', T: '000123', COLUMN: '2024' };
    const capture = [{ table: 'orders', changed: ['${COLUMN}'] }];
    const config = load(base({ capture, sinks, http: { token: '${T}' }, instance: 'i${MP}' }), env);
    const [webhook, mqtt, kafka, nats] = config.sinks as unknown as Array<Record<string, unknown>>;
    assert.deepEqual(webhook.headers, { 'X-Key': '0123' });
    assert.equal(mqtt.username, 'true');
    assert.equal(mqtt.password, '123456');
    assert.deepEqual(config.capture[0].changed, ['2024']);
    assert.deepEqual(kafka.sasl, { mechanism: 'plain', username: 'true', password: '123456' });
    assert.equal(nats.token, '000123');
    assert.equal(config.http.token, '000123');
    assert.equal(config.instance, 'i123456');
  });

  test('a whole reference becomes a number or true/false where the key refuses the string and takes that', () => {
    const sinks = [
      { name: 'r', type: 'redis', url: 'redis://127.0.0.1:6379', maxlen: '${MAXLEN}', max_batch: '${BATCH}' },
      { name: 'q', type: 'mqtt', url: 'mqtt://127.0.0.1:1883', qos: '${QOS}' },
      { name: 'k', type: 'kafka', brokers: ['k:9092'], ssl: '${TLS}', acks: '${ACKS}', allow_auto_topic_creation: '${NO}' },
    ];
    const env = { MAXLEN: '1000', BATCH: '7', QOS: '2', TLS: 'true', ACKS: '1', NO: 'false' };
    const [redis, mqtt, kafka] = load(base({ sinks }), env).sinks as unknown as Array<Record<string, unknown>>;
    assert.equal(redis.maxlen, 1000);
    assert.deepEqual([redis.max_batch, (redis.batch as { max_events: number }).max_events], [7, 7], 'the alias, read from the environment');
    assert.equal(mqtt.qos, 2);
    assert.equal(kafka.ssl, true);
    assert.equal(kafka.acks, '1', 'acks takes "1" as written');
    assert.equal(kafka.allow_auto_topic_creation, false);
  });

  test('a reference inside a longer string is never converted; a wrong one for a number key is still an error', () => {
    assert.deepEqual(problems(`${MINIMAL}http:\n  port: 9\${P}\n`, { P: '1' }), ['http.port: must be a port number, got string']);
    assert.deepEqual(problems(`${MINIMAL}http:\n  port: \${P}\n`, { P: 'eighty' }), ['http.port: must be a port number, got string']);
  });

  test('an empty variable counts as unset: the default applies', () => {
    assert.equal(load(`${MINIMAL}instance: \${NAME:-blue}\n`, { NAME: '' }).instance, 'blue');
  });

  test('PGSSLMODE, read when there is no postgres.url, must be an sslmode libpq knows', () => {
    assert.deepEqual(problems(base({}), { PGSSLMODE: 'bogus' }), [
      'PGSSLMODE (environment): sslmode "bogus" is not one of disable, allow, prefer, require, verify-ca, verify-full, no-verify',
    ]);
    assert.equal(
      load(base({ postgres: { url: 'postgres://h/db' } }), { PGSSLMODE: 'bogus' }).postgres.url,
      'postgres://h/db',
      'the URL is what counts',
    );
  });

  test('a variable set to the empty string is that, as in the shell (only `:-` replaces it)', () => {
    assert.equal(load(`${MINIMAL}notify_channel: x\${EMPTY}\n`, { EMPTY: '' }).notifyChannel, 'x');
  });

  test('a default may be empty; a value is not substituted twice', () => {
    assert.equal(load(`${MINIMAL}notify_channel: x\${EMPTY:-}\n`).notifyChannel, 'x');
    assert.equal(load(`${MINIMAL}notify_channel: \${A}\n`, { A: '${B}', B: 'no' }).notifyChannel, '${B}');
  });

  test('unset without a default: the key path and the variable, all of them at once', () => {
    assert.deepEqual(problems(`postgres:\n  url: \${DB}\ncapture: [orders]\nsinks:\n  - name: h\n    type: webhook\n    url: \${URL}\n`), [
      'postgres.url: environment variable DB is not set (write ${DB:-default} for a default)',
      'sinks[0].url: environment variable URL is not set (write ${URL:-default} for a default)',
    ]);
  });
});

describe('loadConfig: errors name the key path', () => {
  const cases: Array<[string, object | string, RegExp]> = [
    ['missing url', base({ sinks: [{ name: 'h', type: 'webhook' }] }), /^sinks\[0\]\.url: is required$/],
    ['missing name', base({ sinks: [{ type: 'stdout' }] }), /^sinks\[0\]\.name: is required$/],
    ['missing type', base({ sinks: [{ name: 'x' }] }), /^sinks\[0\]\.type: is required/],
    ['unknown type', base({ sinks: [{ name: 'x', type: 'smtp' }] }), /^sinks\[0\]\.type: unknown sink type "smtp"/],
    ['bad sink name', base({ sinks: [{ name: 'a b', type: 'stdout' }] }), /^sinks\[0\]\.name: may hold only/],
    ['unknown top-level key', base({ sink: [] }), /^sink: unknown key$/],
    ['unknown nested key', base({ http: { prot: 1 } }), /^http\.prot: unknown key$/],
    ['unknown sink key', base({ sinks: [{ name: 'h', type: 'webhook', url: 'http://x/', urll: 'y' }] }), /^sinks\[0\]\.urll: unknown key$/],
    ['unknown capture key', base({ capture: [{ table: 't', column: ['a'] }] }), /^capture\[0\]\.column: unknown key$/],
    ['wrong type: number for string', base({ sinks: [{ name: 'h', type: 'webhook', url: 5 }] }), /^sinks\[0\]\.url: must be a string, got number$/],
    ['wrong type: string for number', base({ shutdown_timeout_ms: '10s' }), /^shutdown_timeout_ms: must be a whole number/],
    ['wrong type: string for list', base({ capture: 'orders' }), /^capture: must be a list, got string$/],
    ['wrong type: map for list', base({ sinks: { hooks: { type: 'stdout' } } }), /^sinks: must be a list, got a map$/],
    ['wrong type: scalar for section', base({ outbox: 5 }), /^outbox: must be a map, got number$/],
    ['wrong type: map for the routes list', base({ routes: { from: { table: 'orders' }, to: ['hooks'] } }), /^routes: must be a list$/],
    [
      'wrong type: map for a header',
      base({ sinks: [{ name: 'h', type: 'webhook', url: 'http://x/', headers: { 'X-A': {} } }] }),
      /^sinks\[0\]\.headers\.X-A: must be a string, got a map$/,
    ],
    [
      'wrong type: number for a header',
      base({ sinks: [{ name: 'h', type: 'webhook', url: 'http://x/', headers: { 'X-Key': 123 } }] }),
      /^sinks\[0\]\.headers\.X-Key: must be a string, got number$/,
    ],
    [
      'an empty name in a list of names',
      base({ routes: [{ from: { table: 'orders' }, to: ['hooks', ''] }] }),
      /^routes\[0\]\.to\[1\]: must be a non-empty string$/,
    ],
    [
      'a header name with a space',
      base({ sinks: [{ name: 'h', type: 'webhook', url: 'http://x/', headers: { 'Bad Header': 'x' } }] }),
      /^sinks\[0\]\.headers\.Bad Header: is not a valid HTTP header name/,
    ],
    [
      'a header value with a line break',
      base({ sinks: [{ name: 'h', type: 'webhook', url: 'http://x/', headers: { 'X-A': 'a\r\nX-Evil: 1' } }] }),
      /^sinks\[0\]\.headers\.X-A: may not hold a line break, another control character than tab, or a character beyond Latin-1 \(U\+00FF\): HTTP cannot send it$/,
    ],
    [
      'wrong type: map inside sasl',
      base({ sinks: [{ name: 'k', type: 'kafka', brokers: ['k:9092'], sasl: { mechanism: 'plain', username: 'u', password: { x: 'K' } } }] }),
      /^sinks\[0\]\.sasl\.password: must be a string, a number, true or false, or a list; got a map$/,
    ],
    [
      'wrong type: map inside tls',
      base({ sinks: [{ name: 'r', type: 'redis', url: 'rediss://x', tls: { ca: { x: 1 } } }] }),
      /^sinks\[0\]\.tls\.ca: must be a string, a number, true or false, or a list; got a map$/,
    ],
    ['wrong type: string for boolean', base({ log: { pretty: 'yes' } }), /^log\.pretty: must be true or false, got string$/],
    ['wrong type: string for port', base({ http: { port: '80' } }), /^http\.port: must be a port number, got string$/],
    ['port out of range', base({ http: { port: 70000 } }), /^http\.port: /],
    ['not one of', base({ delivery: 'maybe' }), /^delivery: must be one of the possible values: \["outbox","notify","wal"\]$/],
    ['bad op', base({ capture: [{ table: 't', ops: ['upsert'] }] }), /^capture\[0\]\.ops: unknown op "upsert"/],
    ['empty ops', base({ capture: [{ table: 't', ops: [] }] }), /^capture\[0\]\.ops: must be a non-empty list/],
    ['bad columns', base({ capture: [{ table: 't', columns: [] }] }), /^capture\[0\]\.columns: must be "\*" or a non-empty list/],
    ['a column listed twice', base({ capture: [{ table: 't', columns: ['id', 'a', 'id'] }] }), /^capture\[0\]\.columns: lists column "id" twice$/],
    [
      'a column listed twice for one op',
      base({ capture: [{ table: 't', columns: { insert: '*', delete: ['id', 'id'] } }] }),
      /^capture\[0\]\.columns\.delete: lists column "id" twice$/,
    ],
    [
      'bad per-op columns',
      base({ capture: [{ table: 't', columns: { insert: '*', upsert: ['a'] } }] }),
      /^capture\[0\]\.columns\.upsert: unknown key/,
    ],
    ['bad table name', base({ capture: [{ table: 'a.b.c' }] }), /^capture\[0\]\.table: "a\.b\.c" is not/],
    [
      'table name over 63 characters',
      base({ capture: [`public.${'x'.repeat(64)}`] }),
      /^capture\[0\]\.table: "x{64}" is 64 characters; Postgres names are at most 63 bytes \(it would truncate it\)$/,
    ],
    ['captured twice', base({ capture: ['orders', 'public.orders'] }), /^capture\[1\]\.table: public\.orders is captured twice$/],
    ['nothing to bridge', base({ capture: [] }), /^capture: nothing to bridge/],
    ['empty sinks', base({ sinks: [] }), /^sinks: at least one sink is required$/],
    [
      'duplicate sink',
      base({
        sinks: [
          { name: 'a', type: 'stdout' },
          { name: 'a', type: 'stdout' },
        ],
      }),
      /^sinks\[1\]\.name: duplicate sink name "a"$/,
    ],
    ['route to unknown sink', base({ routes: [{ from: { table: 'orders' }, to: ['nope'] }] }), /^routes\[0\]\.to\[0\]: no sink named "nope"$/],
    [
      'route from uncaptured table',
      base({ routes: [{ from: { table: 'users' }, to: ['hooks'] }] }),
      /^routes\[0\]\.from\.table: public\.users is not in capture$/,
    ],
    [
      'route from a table whose dotted name reads like a captured one',
      base({ capture: ['"a.b".c'], routes: [{ from: { table: 'a."b.c"' }, to: ['hooks'] }] }),
      /^routes\[0\]\.from\.table: a\.b\.c is not in capture$/,
    ],
    [
      'route from unknown channel',
      base({ routes: [{ from: { channel: 'x' }, to: ['hooks'] }] }),
      /^routes\[0\]\.from\.channel: x is not in channels$/,
    ],
    [
      'route with table and channel',
      base({ channels: [{ name: 'x' }], routes: [{ from: { table: 'orders', channel: 'x' }, to: ['hooks'] }] }),
      /^routes\[0\]\.from: give either table/,
    ],
    [
      'route ops on a channel',
      base({ channels: [{ name: 'x' }], routes: [{ from: { channel: 'x', ops: ['insert'] }, to: ['hooks'] }] }),
      /^routes\[0\]\.from\.ops: ops apply to tables/,
    ],
    ['route without sinks', base({ routes: [{ from: { table: 'orders' }, to: [] }] }), /^routes\[0\]\.to: must be a non-empty list/],
    ['invalid URL', base({ sinks: [{ name: 'h', type: 'webhook', url: 'not a url' }] }), /^sinks\[0\]\.url: is not a valid URL$/],
    [
      'wrong scheme',
      base({ sinks: [{ name: 'h', type: 'webhook', url: 'ftp://h/' }] }),
      /^sinks\[0\]\.url: must use http:\/\/ or https:\/\/, got ftp:\/\/$/,
    ],
    ['wrong postgres scheme', base({ postgres: { url: 'mysql://h/db' } }), /^postgres\.url: must use postgres:\/\/ or postgresql:\/\//],
    [
      'an sslmode libpq does not know',
      base({ postgres: { url: 'postgres://h/db?sslmode=bogus' } }),
      /^postgres\.url: sslmode "bogus" is not one of disable, /,
    ],
    ['bad instance', base({ instance: 'Blue-1' }), /^instance: must be lower-case letters/],
    [
      'bad retry',
      base({ sinks: [{ name: 'h', type: 'webhook', url: 'http://x/', retry: { initial_ms: 0 } }] }),
      /^sinks\[0\]\.retry\.initial_ms: must be a whole number of at least 1, got 0$/,
    ],
    [
      'bad header value',
      base({ sinks: [{ name: 'h', type: 'webhook', url: 'http://x/', headers: { 'x-n': 1 } }] }),
      /^sinks\[0\]\.headers\.x-n: must be a string, got number$/,
    ],
    ['top level not a map', '- a\n- b\n', /^must be a map, got a list$/],
    ['empty file', '', /^the file is empty$/],
    ['YAML syntax', 'sinks: [a\n', /^invalid YAML \(line \d+, column \d+\): /],
    ['YAML duplicate key', `${MINIMAL}delivery: notify\ndelivery: outbox\n`, /^invalid YAML \(line 11, column 1\): map keys must be unique$/],
    [
      'YAML merge key given no map',
      `${MINIMAL}  - <<: 5\n    name: b\n`,
      /^invalid YAML \(line 10, column 5\): a merge key \(<<\) takes a map, an alias of one or a list of them$/,
    ],
  ];
  for (const [name, content, expected] of cases) {
    test(name, () => {
      const found = problems(content);
      assert.equal(found.length, 1, `one problem: ${found.join(' | ')}`);
      assert.match(found[0], expected);
    });
  }

  test('a missing file', () => {
    assert.throws(() => loadConfig(path.join(dir, 'nope.yaml'), {}), /nope\.yaml: file not found$/);
  });

  test('messages about secret-bearing keys never carry the value', () => {
    const found = [
      ...problems(base({ sinks: [{ name: 'h', type: 'webhook', url: 'http://u:pa55w0rd@bad host/' }] })),
      ...problems(base({ postgres: { url: 'postgres://u:pa55w0rd@bad host/db' } })),
      ...problems(base({ sinks: [{ name: 'h', type: 'webhook', url: 'http://x/', secret: ['whsec_pa55w0rd', 5] }] })),
      ...problems(base({ sinks: [{ name: 'h', type: 'webhook', url: 'http://x/', headers: { Authorization: ['Bearer pa55w0rd'] } }] })),
    ];
    assert.equal(found.length, 4);
    assert.ok(!found.join(' ').includes('pa55w0rd'), found.join(' '));
  });
});

describe('a syntax error: the line and column, and no text of the file (the parsers quote it, secrets included)', () => {
  const cases: [string, string, string, string][] = [
    ['JSON, an unquoted value', '.json', '{\n  "sinks": [{"name": "h", "secret": whsec_pa55w0rd}]\n}\n', 'invalid JSON (line 2, column 37)'],
    ['JSON, a stray bracket in a short file', '.json', '{"sinks": [}', 'invalid JSON (line 1, column 12)'],
    ['JSON, a trailing comma', '.json', '{\n  "sinks": [\n    {"secret": "whsec_pa55w0rd",}\n  ]\n}\n', 'invalid JSON (line 3, column 33)'],
    ['JSON, a bad escape', '.json', '{"sinks": [{"secret": "whsec_\\pa55w0rd"}]}', 'invalid JSON (line 1, column 31)'],
    ['JSON, nothing at all', '.json', '', 'invalid JSON (line 1, column 1)'],
    [
      'JSON, a key given twice with the same value (as YAML refuses it)',
      '.json',
      '{\n  "delivery": "outbox",\n  "delivery": "outbox"\n}\n',
      'invalid JSON (line 3, column 3): map keys must be unique; "delivery" is given twice',
    ],
    [
      'JSON, a key given twice in a nested map, once escaped',
      '.json',
      '{"sinks": [{"name": "h", "headers": {"X-A": "1", "X-B": "2", "X-\\u0041": "3"}}], "headers": {"X-A": "4"}}',
      'invalid JSON (line 1, column 62): map keys must be unique; "X-A" is given twice',
    ],
    [
      'YAML, a bad escape',
      '.yaml',
      `${MINIMAL}    secret: "whsec_\\pa55w0rd"\n`,
      'invalid YAML (line 10, column 20): an invalid escape sequence in a double-quoted string',
    ],
    ['YAML, a block scalar header with more', '.yaml', `${MINIMAL}    secret: |pa55w0rd\n`, 'invalid YAML (line 10, column 14): unexpected text'],
    ['YAML, a stray bracket', '.yaml', `${MINIMAL}    secret: [a] ]pa55w0rd\n`, 'invalid YAML (line 10, column 17): unexpected text'],
    [
      'YAML, a value read as a tag (only part of it would be kept)',
      '.yaml',
      `${MINIMAL}    secret: !pa55 w0rd\n`,
      'invalid YAML (line 10, column 13): an unknown tag: a value that starts with ! must be quoted',
    ],
    [
      'YAML, an alias with no anchor',
      '.yaml',
      `${MINIMAL}    secret: *pa55w0rd\n`,
      'invalid YAML (line 10, column 13): an alias (*) with no anchor (&) before it',
    ],
  ];
  for (const [name, ext, content, expected] of cases) {
    test(name, () => {
      const where = file(content, ext);
      assert.throws(
        () => loadConfig(where, {}),
        (err: Error) => {
          assert.ok(err instanceof ConfigError, `a ConfigError, got ${String(err)}`);
          assert.equal(err.message, `${where}: ${expected}`);
          return true;
        },
      );
    });
  }

  test("a JSON parser's message gives the offset, or none when it names no position", () => {
    assert.equal(offsetInMessage(new SyntaxError('Bad escaped character in JSON at position 7 (line 1 column 8)')), 7);
    assert.equal(offsetInMessage(new SyntaxError('Unexpected end of JSON input')), undefined);
    assert.equal(offsetInMessage('at position 7'), undefined);
  });
});

describe('resolveConfigPath', () => {
  test('-c, else $PGBRIDGE_CONFIG, else ./pgbridge.yaml, else config/pgbridge.yaml', () => {
    assert.equal(resolveConfigPath('x.yaml', { PGBRIDGE_CONFIG: 'y.yaml' }), 'x.yaml');
    assert.equal(resolveConfigPath(undefined, { PGBRIDGE_CONFIG: 'y.yaml' }), 'y.yaml');
    const cwd = process.cwd();
    try {
      process.chdir(mkdtempSync(path.join(tmpdir(), 'pgbridge-cwd-')));
      assert.equal(resolveConfigPath(undefined, {}), path.join('config', 'pgbridge.yaml'));
      writeFileSync('pgbridge.yaml', '');
      assert.equal(resolveConfigPath(undefined, {}), 'pgbridge.yaml');
    } finally {
      process.chdir(cwd);
    }
  });
});

describe('loadConfig: capture filters, truncate and read', () => {
  test('where, changed and truncate are read as written; the default ops leave truncate out', () => {
    const config = load(
      base({ capture: [{ table: 'orders', ops: ['update', 'truncate'], where: "status <> 'draft'", changed: ['status'] }, 'items'] }),
    );
    assert.equal(config.capture[0].where, "status <> 'draft'");
    assert.deepEqual(config.capture[0].changed, ['status']);
    assert.deepEqual([...config.capture[0].ops], ['update', 'truncate']);
    assert.deepEqual([...config.capture[1].ops], ['insert', 'update', 'delete']);
    assert.equal(config.capture[1].where, null);
  });

  test('routes may match read and truncate', () => {
    const config = load(base({ routes: [{ from: { table: 'orders', ops: ['read', 'truncate'] }, to: ['hooks'] }] }));
    assert.deepEqual(config.routes![0].from.kind === 'table' && [...config.routes![0].from.ops], ['read', 'truncate']);
  });

  test('bad filters are config errors at their key path', () => {
    assert.deepEqual(problems(base({ capture: [{ table: 'orders', where: ' ' }] })), ['capture[0].where: must be a non-empty SQL condition']);
    assert.deepEqual(problems(base({ capture: [{ table: 'orders', where: 3 }] })), ['capture[0].where: must be a non-empty SQL condition']);
    assert.deepEqual(problems(base({ capture: [{ table: 'orders', changed: [] }] })), [
      'capture[0].changed: must be a non-empty list of column names',
    ]);
    assert.deepEqual(problems(base({ capture: [{ table: 'orders', ops: ['insert'], changed: ['a'] }] })), [
      'capture[0].changed: applies to update events, and ops does not include update',
    ]);
    assert.deepEqual(problems(base({ capture: [{ table: 'orders', ops: ['read'] }] })), [
      'capture[0].ops: unknown op "read"; use insert, update, delete, truncate',
    ]);
    assert.deepEqual(problems(base({ routes: [{ from: { table: 'orders', ops: ['merge'] }, to: ['hooks'] }] })), [
      'routes[0].from.ops: unknown op "merge"; use insert, update, delete, truncate, read',
    ]);
  });
});
