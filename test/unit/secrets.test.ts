import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';
import { postgresSecrets, urlPassword } from '../../src/config/secrets.js';
import { Scrubber } from '../../src/secrets.js';
import { namesCredentials, webhookSecrets, type WebhookSinkConfig } from '../../src/sinks/webhook/config.js';
import { sinkConfigKeys } from '../support/sink-config.js';

describe('Scrubber', () => {
  test('masks every known secret, wherever it appears, as often as it appears', () => {
    const scrubber = new Scrubber(['hunter2', 'whsec_abc123']);
    assert.equal(scrubber.scrub('pw hunter2 and hunter2; key whsec_abc123.'), 'pw *** and ***; key ***.');
  });

  test('a secret containing another is masked whole (longest first)', () => {
    const scrubber = new Scrubber(['abc', 'abcdef']);
    assert.equal(scrubber.scrub('x abcdef y abc'), 'x *** y ***');
  });

  test('secrets shorter than 3 characters are ignored, so "a" does not shred every line', () => {
    const scrubber = new Scrubber(['a', '', 'xy']);
    assert.equal(scrubber.scrub('a plain line with xy'), 'a plain line with xy');
  });

  test('passwords in URLs it was not told about are masked too', () => {
    const scrubber = new Scrubber([]);
    assert.equal(
      scrubber.scrub('connect postgres://app:Sup3r@db:5432/x failed; amqp://guest:guest@mq:5672 too'),
      'connect postgres://app:***@db:5432/x failed; amqp://guest:***@mq:5672 too',
    );
    assert.equal(scrubber.scrub('"url":"https://u:p%40ss@h/"'), '"url":"https://u:***@h/"');
    assert.equal(scrubber.scrub('http://host:8080/path'), 'http://host:8080/path', 'a port is not a password');
    assert.equal(scrubber.scrub('connect redis://:n0-user-pw@cache:6379 failed'), 'connect redis://:***@cache:6379 failed', 'no user name');
  });

  test('a secret is masked where JSON escaped it too: a log line as pino wrote it, a body as Python json.dumps wrote it', () => {
    const scrubber = new Scrubber(['pa"ss\\wörd\n']);
    assert.equal(scrubber.scrub(JSON.stringify({ err: 'login with pa"ss\\wörd\n refused' })), '{"err":"login with *** refused"}');
    assert.equal(scrubber.scrub('{"detail": "bad password pa\\"ss\\\\w\\u00f6rd\\n"}'), '{"detail": "bad password ***"}');
  });

  test('scrubCut: in text cut short, the start of a secret the cut went through is masked too (3 characters or more)', () => {
    const scrubber = new Scrubber(['long-secret-token']);
    assert.equal(scrubber.scrubCut('token long-secret-token, again long-sec'), 'token ***, again ***');
    assert.equal(scrubber.scrubCut('ends in lo'), 'ends in lo', 'two characters say nothing');
    assert.equal(scrubber.scrub('again long-sec'), 'again long-sec', 'scrub does not guess at a cut');
  });

  test('scrubStrings: the strings inside a JSON value, so that the JSON made of it stays JSON whatever a secret equals', () => {
    const scrubber = new Scrubber(['300', 'hunter2']);
    const value = { timeout_ms: 30000, paused: true, note: 'x300 and hunter2', list: ['hunter2', 300, null], at: new Date(0) };
    assert.deepEqual(scrubber.scrubStrings(value), {
      timeout_ms: 30000,
      paused: true,
      note: 'x*** and ***',
      list: ['***', 300, null],
      at: '1970-01-01T00:00:00.000Z',
    });
  });

  test('text without secrets is unchanged', () => {
    assert.equal(new Scrubber(['secret-value']).scrub('{"level":30,"msg":"ok"}'), '{"level":30,"msg":"ok"}');
  });
});

describe('secret discovery', () => {
  test('urlPassword: as written and decoded; none without a password or for a bad URL', () => {
    assert.deepEqual(urlPassword('postgres://u:p%40ss@h/db'), ['p%40ss', 'p@ss']);
    assert.deepEqual(urlPassword('postgres://u:plain@h/db'), ['plain']);
    assert.deepEqual(urlPassword('postgres://u@h/db'), []);
    assert.deepEqual(urlPassword('not a url'), []);
    assert.deepEqual(urlPassword(null), []);
    assert.deepEqual(urlPassword('postgres://u:50%off@h/db'), ['50%off'], 'a % that starts no escape: as written');
  });

  test('a webhook URL whose user:password does not decode is a config error (the Basic header is built from it decoded), not a crash', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'pgbridge-unit-'));
    const file = path.join(dir, 'c.yaml');
    writeFileSync(file, `capture: [orders]\nsinks:\n  - name: h\n    type: webhook\n    url: http://alice:\${HOOK_PW}@127.0.0.1/\n`);
    assert.throws(
      () => loadConfig(file, { HOOK_PW: '50%off' }),
      (err: Error) => {
        assert.ok(err instanceof ConfigError, `a ConfigError, got ${err.stack}`);
        assert.match(err.message, /sinks\[0\]\.url: user:password holds a % that starts no percent-encoded character: write % itself as %25$/);
        return true;
      },
    );
  });

  test('postgresSecrets adds PGPASSWORD', () => {
    const saved = process.env.PGPASSWORD;
    process.env.PGPASSWORD = 'from-env-pw';
    try {
      assert.deepEqual(postgresSecrets('postgres://u:x1y2z3@h/db'), ['x1y2z3', 'from-env-pw']);
    } finally {
      if (saved === undefined) delete process.env.PGPASSWORD;
      else process.env.PGPASSWORD = saved;
    }
  });

  test('webhookSecrets: signing secrets, auth-like headers (whole and token part), URL password', () => {
    const config = sinkConfigKeys({
      name: 'hook',
      type: 'webhook',
      url: 'https://user:urlpass1@hooks.example/x',
      secret: ['whsec_one', 'whsec_two'],
      headers: { Authorization: 'Bearer tok-0123456789', 'X-Api-Key': 'k-abcdefgh', 'X-Trace': 'not-secret' },
    }) as unknown as WebhookSinkConfig;
    const secrets = webhookSecrets(config);
    for (const s of ['whsec_one', 'whsec_two', 'Bearer tok-0123456789', 'tok-0123456789', 'k-abcdefgh', 'urlpass1'])
      assert.ok(secrets.includes(s), s);
    assert.ok(!secrets.includes('not-secret'));
  });

  test('webhookSecrets: the pieces of an auth header a far end may quote alone, a short token and a cookie value', () => {
    const config = sinkConfigKeys({
      name: 'hook',
      type: 'webhook',
      url: 'https://hooks.example/x',
      headers: { Authorization: 'Bearer Zq9x7Lp', Cookie: 'session=s3ss10n-0123456789; theme=dark', 'X-Trace': 'not-secret' },
    }) as unknown as WebhookSinkConfig;
    const secrets = webhookSecrets(config);
    for (const s of ['Zq9x7Lp', 's3ss10n-0123456789']) assert.ok(secrets.includes(s), s);
    for (const s of ['Bearer', 'session', 'theme', 'dark']) assert.ok(!secrets.includes(s), `${s} is no secret`);
  });

  test('webhookSecrets: every header named for credentials, not only Authorization and API keys', () => {
    const headers = {
      'X-Api-Pass': 'pass-value-1',
      'X-Credentials': 'cred-value-2',
      'X-Session-Id': 'session-value-3',
      'X-JWT-Assertion': 'jwt-value-4',
      'X-Db-Pwd': 'pwd-value-5',
    };
    const config = sinkConfigKeys({ name: 'hook', type: 'webhook', url: 'https://hooks.example/x', headers }) as unknown as WebhookSinkConfig;
    const secrets = webhookSecrets(config);
    for (const s of Object.values(headers)) assert.ok(secrets.includes(s), s);
  });

  test('webhookSecrets: a header whose name holds a credential word inside another, and values that are plain settings', () => {
    const joined = {
      'X-SessionId': 'sess-4f9a8b7c6d5e',
      'X-ApiPassword': 'pw-joined-1',
      'X-JWTAssertion': 'jwt-joined-2',
      'X-UserPass': 'up-joined-3',
    };
    const settings = { 'X-Bypass-Cache': 'true', 'X-Session-Timeout': '300', 'X-Auth-Retries': '3.5', 'X-Api-Key-Enabled': 'on' };
    const config = sinkConfigKeys({
      name: 'hook',
      type: 'webhook',
      url: 'https://hooks.example/x',
      headers: { ...joined, ...settings, 'X-Pin-Token': '12345678' },
    }) as unknown as WebhookSinkConfig;
    const secrets = webhookSecrets(config);
    for (const s of [...Object.values(joined), '12345678']) assert.ok(secrets.includes(s), s);
    for (const s of Object.values(settings)) assert.ok(!secrets.includes(s), `${s} is a setting`);
    assert.deepEqual(['Content-Type', 'X-Request-Id', 'Accept'].filter(namesCredentials), []);
  });

  test('loadConfig collects the secrets of the whole file, after ${VAR} substitution', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'pgbridge-unit-'));
    const file = path.join(dir, 'c.yaml');
    writeFileSync(
      file,
      `postgres:\n  url: postgres://app:\${DB_PW}@127.0.0.1/db\ncapture: [orders]\nsinks:\n  - name: h\n    type: webhook\n    url: http://127.0.0.1/\n    secret: \${HOOK_SECRET}\n    headers:\n      Authorization: Bearer \${TOKEN}\n`,
    );
    const config = loadConfig(file, { DB_PW: 'db-pw-123', HOOK_SECRET: 'whsec_c2VjcmV0', TOKEN: 'tok-abcdefghij' });
    for (const s of ['db-pw-123', 'whsec_c2VjcmV0', 'tok-abcdefghij']) assert.ok(config.secrets.includes(s), s);
    const scrubbed = new Scrubber(config.secrets).scrub(`db-pw-123 whsec_c2VjcmV0 Bearer tok-abcdefghij`);
    assert.equal(scrubbed, '*** *** ***');
  });
});
