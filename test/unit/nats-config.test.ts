import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { ConfigError } from '../../src/errors.js';
import { natsSecrets, serverList, type NatsSinkConfig } from '../../src/sinks/nats/config.js';
import { serverAddresses } from '../../src/sinks/nats/servers.js';
import { streamSubjects } from '../../src/sinks/nats/stream-subjects.js';
import { subjectProblem, subjectWildcard } from '../../src/sinks/nats/subject.js';
import { loadSinkConfig } from '../support/sink-config.js';

const nats = (extra: Record<string, unknown> = {}) =>
  loadSinkConfig({ name: 'js', type: 'nats', url: 'nats://127.0.0.1:4222', ...extra }) as unknown as NatsSinkConfig;

function problems(extra: Record<string, unknown>): string {
  try {
    nats(extra);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.message;
  }
  assert.fail('the config loaded');
}

describe('nats sink config', () => {
  test('defaults: the contract subject, no stream, PubAck timeout 5 s', () => {
    const config = nats();
    assert.equal(config.subject, 'pgbridge.{schema}.{table}.{op}');
    assert.equal(config.channel_subject, 'pgbridge.channel.{channel}');
    assert.equal(config.stream, null);
    assert.equal(config.declare, false);
    assert.equal(config.timeout_ms, 5000);
    assert.deepEqual(streamSubjects(config), ['pgbridge.*.*.*', 'pgbridge.channel.*']);
  });

  test('config errors name the key', () => {
    assert.match(problems({ url: 'http://127.0.0.1:4222' }), /sinks\[0\]\.url: must use nats:\/\/ or tls:\/\//);
    assert.match(problems({ url: [] }), /sinks\[0\]\.url: is required/);
    assert.match(problems({ declare: true }), /sinks\[0\]\.declare: needs `stream`/);
    assert.match(
      problems({ channel_subject: 'ev.{table}' }),
      /sinks\[0\]\.channel_subject: \{table\} is for row events .*channel_subject takes \{channel\}/,
    );
    assert.match(problems({ subject: 'ev.{schema}.{channel}' }), /sinks\[0\]\.subject: \{channel\} is for channel events: put it in channel_subject/);
    assert.doesNotThrow(() => nats({ subject: 'rows', channel_subject: 'notices' }), 'fixed subjects');
    assert.match(problems({ stream: 'a.b' }), /sinks\[0\]\.stream: must be a stream name/);
    assert.match(problems({ user: 'bridge' }), /sinks\[0\]\.password: user and password go together/);
    assert.match(problems({ token: 't0k3n', creds: '/nonexistent.creds' }), /give one of user\/password, token and creds/);
    assert.match(problems({ creds: '/nonexistent.creds' }), /sinks\[0\]\.creds: cannot read "\/nonexistent.creds"/);
    assert.match(problems({ tls: { ca: 'x' } }), /sinks\[0\]\.tls\.ca: is not a known key/);
    assert.match(problems({ subject: 'x.{tabel}' }), /sinks\[0\]\.subject: unknown placeholder \{tabel\}/);
    const overlapping = { stream: 'S', declare: true, subject: 'x.{table}.y', channel_subject: 'x.a.{channel}' };
    assert.match(
      problems(overlapping),
      /sinks\[0\]\.declare: cannot create a stream over subject "x\.\{table\}\.y" \(x\.\*\.y\) and channel_subject "x\.a\.\{channel\}" \(x\.a\.\*\)/,
    );
    // Declared by someone else, the same templates are the user's business.
    assert.doesNotThrow(() => nats({ ...overlapping, declare: false }));
  });

  test('a list of URLs, and several in one string', () => {
    assert.deepEqual(serverAddresses(serverList(['nats://a:4222, nats://b:4223', 'tls://c'])).servers, ['a:4222', 'b:4223', 'c:4222']);
    assert.equal(serverAddresses(['tls://c']).tlsRequired, true);
    assert.deepEqual(nats({ url: ['nats://a:1', 'nats://b:2'] }).url, ['nats://a:1', 'nats://b:2']);
  });

  test('credentials in a URL: user:password, or a token', () => {
    assert.deepEqual(serverAddresses(['nats://bridge:p%40ss@a:4222']), { servers: ['a:4222'], tlsRequired: false, user: 'bridge', password: 'p@ss' });
    assert.deepEqual(serverAddresses(['nats://s3cr3t-token@a:4222']), { servers: ['a:4222'], tlsRequired: false, token: 's3cr3t-token' });
  });

  test('secrets: password, token, URL credentials (raw and decoded) and the JWT and seed of a creds file', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'pgbridge-creds-'));
    const creds = path.join(dir, 'u.creds');
    const jwt = 'eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.eyJzdWIiOiJVQUJDIn0.c2lnbmF0dXJl';
    const seed = 'SUAIBDPBAUTWCWBKIO6XHQNINK5FWJW4OHLXC3HQ2KFE4PEJUA44CNHTC4';
    writeFileSync(
      creds,
      `-----BEGIN NATS USER JWT-----\n${jwt}\n------END NATS USER JWT------\n\n************************* IMPORTANT *************************\nNKEY Seed printed below can be used to sign and prove identity.\n\n-----BEGIN USER NKEY SEED-----\n${seed}\n------END USER NKEY SEED------\n`,
    );
    assert.deepEqual(natsSecrets(nats({ creds })), [jwt, seed]);
    assert.deepEqual(natsSecrets(nats({ user: 'u', password: 'pw-1' })), ['pw-1']);
    assert.deepEqual(natsSecrets(nats({ token: 'tok-1' })), ['tok-1']);
    assert.deepEqual(natsSecrets(nats({ url: ['nats://u:p%40ss@a:1', 'nats://t0k3n@b:2'] })), ['p%40ss', 'p@ss', 't0k3n']);
  });
});

describe('nats subjects', () => {
  test('legal subjects pass; whitespace, empty tokens and wildcard tokens are refused', () => {
    assert.equal(subjectProblem('pgbridge.public.orders.insert'), undefined);
    assert.equal(subjectProblem('a.b*c.d>'), undefined, 'a * or > inside a token is a literal character');
    assert.match(subjectProblem('pgbridge.public.my table.insert')!, /whitespace/);
    assert.match(subjectProblem('pgbridge..orders')!, /empty token/);
    assert.match(subjectProblem('pgbridge.orders.')!, /empty token/);
    assert.match(subjectProblem('pgbridge.*.orders')!, /wildcard/);
    assert.match(subjectProblem('pgbridge.>')!, /wildcard/);
    assert.match(subjectProblem('')!, /empty/);
  });

  test("a template's wildcard: every token with a placeholder becomes *", () => {
    assert.equal(subjectWildcard('pgbridge.{schema}.{table}.{op}'), 'pgbridge.*.*.*');
    assert.equal(subjectWildcard('cdc.{schema}_{table}'), 'cdc.*');
    assert.equal(subjectWildcard('events'), 'events');
  });
});
