import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, PermanentError, RetriableError } from '../../src/errors.js';
import { toStreamEntry } from '../../src/sinks/redis/entry.js';
import { fromReply, replyCode } from '../../src/sinks/redis/errors.js';
import { redisSecrets } from '../../src/sinks/redis/config.js';
import { channelEvent, rowEvent } from '../support/events.js';
import { loadSinkConfig } from '../support/sink-config.js';

function configProblem(raw: Record<string, unknown>): string {
  try {
    loadSinkConfig({ name: 'streams', type: 'redis', ...raw });
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.message;
  }
  assert.fail('the config loaded');
}

describe('redis sink config', () => {
  test('defaults: stream pgbridge:{schema}.{table}, no trimming, one transaction in flight, 500 per batch', () => {
    const config = loadSinkConfig({ name: 'streams', type: 'redis', url: 'redis://127.0.0.1:6379' });
    assert.equal(config.stream, 'pgbridge:{schema}.{table}');
    assert.equal(config.maxlen, null);
    assert.equal(config.max_in_flight, 1);
    assert.equal(config.max_batch, 500);
  });

  test('refused with the key path: no url, another scheme, a path that is no database number, maxlen 0, tls over redis://, an unknown placeholder', () => {
    assert.match(configProblem({}), /sinks\[0\]\.url: is required/);
    assert.match(configProblem({ url: 'http://127.0.0.1:6379' }), /sinks\[0\]\.url: must use redis:\/\/ or rediss:\/\/, got http:\/\//);
    assert.match(configProblem({ url: 'redis://127.0.0.1:6379/streams' }), /sinks\[0\]\.url: path must be a database number/);
    assert.match(configProblem({ url: 'redis://h:6379', maxlen: 0 }), /sinks\[0\]\.maxlen: must be a positive integer/);
    assert.match(configProblem({ url: 'redis://h:6379', tls: { ca: 'x' } }), /sinks\[0\]\.tls: is set but the url is redis:\/\//);
    assert.match(configProblem({ url: 'redis://h:6379', stream: '{schema}.{tabel}' }), /sinks\[0\]\.stream: unknown placeholder \{tabel\}/);
  });

  test('a stream with a hash tag around a placeholder loads (it did before braces were checked)', () => {
    assert.equal(
      loadSinkConfig({ name: 'streams', type: 'redis', url: 'redis://h:6379', stream: 'pgbridge:{{table}}' }).stream,
      'pgbridge:{{table}}',
    );
  });

  test('a password with a / not percent-encoded: the path it becomes is not quoted in the config error', () => {
    const problem = configProblem({ url: 'redis://default:2024/Spring-S3cret@127.0.0.1:6379/0' });
    assert.match(problem, /sinks\[0\]\.url: path must be a database number \(\/0\); a \/ \? # or @ in the password must be percent-encoded/);
    assert.ok(!problem.includes('S3cret'), problem);
  });

  test('the URL password is a secret, as written and percent-decoded; a URL without one has none', () => {
    const config = loadSinkConfig({ name: 'streams', type: 'redis', url: 'rediss://app:p%40ss%2Fw0rd@h:6380/2' });
    assert.deepEqual(redisSecrets(config as never), ['p%40ss%2Fw0rd', 'p@ss/w0rd']);
    assert.deepEqual(redisSecrets(loadSinkConfig({ name: 's', type: 'redis', url: 'redis://h:6379' }) as never), []);
  });
});

describe('redis entries and reply errors', () => {
  test('a row event: fields id, op, table, event; a channel event: id, op NOTIFY, channel, event; the stream from the template', () => {
    const row = rowEvent({ schema: 'shop', table: 'orders' });
    const entry = toStreamEntry(row, { stream: 'pgbridge:{schema}.{table}', format: 'skor' }, { database: 'db' });
    assert.equal(entry.stream, 'pgbridge:shop.orders');
    assert.deepEqual(Object.keys(entry.fields), ['id', 'op', 'table', 'event']);
    assert.deepEqual(entry.fields, {
      id: row.id,
      op: 'INSERT',
      table: 'shop.orders',
      event: `{"table":"orders","schema":"shop","op":"INSERT","data":${row.data}}`,
    });
    const notice = channelEvent({ channel: 'jobs' });
    const channelEntry = toStreamEntry(notice, { stream: 'pgbridge:{schema}.{table}', format: 'pgbridge' }, { database: 'db' });
    assert.equal(channelEntry.stream, 'jobs');
    assert.deepEqual(Object.keys(channelEntry.fields), ['id', 'op', 'channel', 'event']);
    assert.equal(channelEntry.fields.op, 'NOTIFY');
  });

  test('reply codes: retried for now, for the connection, or permanent for the entry', () => {
    const classify = (message: string) => {
      const error = fromReply({ code: replyCode(message), message }, 's');
      return `${error instanceof PermanentError ? 'permanent' : error instanceof RetriableError ? 'retried' : '?'} ${error.code}`;
    };
    assert.equal(classify("OOM command not allowed when used memory > 'maxmemory'."), 'retried PGBRIDGE_REDIS_RETRIABLE');
    assert.equal(classify("READONLY You can't write against a read only replica."), 'retried PGBRIDGE_REDIS_RETRIABLE');
    assert.equal(classify('LOADING Redis is loading the dataset in memory'), 'retried PGBRIDGE_REDIS_RETRIABLE');
    assert.equal(classify('NOAUTH Authentication required.'), 'retried PGBRIDGE_REDIS_UNAVAILABLE');
    assert.equal(classify('WRONGPASS invalid username-password pair or user is disabled.'), 'retried PGBRIDGE_REDIS_UNAVAILABLE');
    assert.equal(classify("NOPERM User app has no permissions to run the 'xadd' command"), 'retried PGBRIDGE_REDIS_UNAVAILABLE');
    assert.equal(classify('NOPERM this user has no permissions to access one of the keys used as arguments'), 'permanent PGBRIDGE_REDIS_REJECTED');
    assert.equal(classify('WRONGTYPE Operation against a key holding the wrong kind of value'), 'permanent PGBRIDGE_REDIS_REJECTED');
    assert.equal(classify('ERR syntax error'), 'permanent PGBRIDGE_REDIS_REJECTED');
  });
});
