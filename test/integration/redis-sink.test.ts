/**
 * The Redis sink against real servers: the entry's fields as a consumer reads
 * them (XRANGE), MAXLEN ~ trimming, and what each failure the server or the
 * network can answer means (retried or permanent), each provoked for real:
 * WRONGTYPE, NOPERM (an ACL user made for the test), WRONGPASS, NOAUTH and
 * OOM (a private redis-server with requirepass / maxmemory), refused
 * connections, rediss:// to a plain port and to a private TLS server.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import type { RedisClientType } from '@redis/client';
import { HTTP, type CloudEvent } from 'cloudevents';
import { PermanentError, RetriableError } from '../../src/errors.js';
import type { BridgeEvent } from '../../src/event.js';
import type { Sink } from '../../src/sinks/sink.js';
import { channelEvent, rowEvent } from '../support/events.js';
import { PrivateRedis, readStream, REDIS_URL, redisAdmin } from '../support/redis.js';
import { silentContext, sinkFromConfig } from '../support/sink-config.js';
import { freePort } from '../support/tcp.js';

const never = new AbortController().signal;
let admin: RedisClientType;
const tag = randomBytes(4).toString('hex');
const table = `rs_${tag}`;
const stream = `pgbridge:public.${table}`;

before(async () => {
  admin = await redisAdmin();
});
after(async () => {
  await admin.del([stream, `pgbridge:jobs_${tag}`, `pgbridge:trim_${tag}`, `allowed:${tag}`, `denied:${tag}`]);
  await admin.close();
});

function sink(t: TestContext, url: string, options: Record<string, unknown> = {}): Sink {
  const s = sinkFromConfig({ name: 'streams', type: 'redis', url, connect_timeout_ms: 2000, ...options }, silentContext('itdb'));
  t.after(() => s.close());
  return s;
}

async function rejection(work: Promise<unknown>): Promise<Error> {
  try {
    await work;
  } catch (err) {
    assert.ok(err instanceof Error);
    return err;
  }
  assert.fail('expected a rejection');
}

async function connected(t: TestContext, url: string, options: Record<string, unknown> = {}): Promise<Sink> {
  const s = sink(t, url, options);
  await s.connect(never);
  return s;
}

describe('redis sink: entries', () => {
  test('a row event is XADDed with fields id, op, table and event, in that order; a channel event with channel instead of table', async (t) => {
    const s = await connected(t, REDIS_URL, { stream: 'pgbridge:{schema}.{table}{channel}' });
    const row = rowEvent({ table, op: 'UPDATE' });
    const notice = channelEvent({ channel: `jobs_${tag}`, payload: 'plain text' });
    await s.send([row, notice], never);
    const [entry] = await readStream(admin, stream);
    assert.deepEqual(Object.keys(entry.fields), ['id', 'op', 'table', 'event']);
    assert.deepEqual(
      { ...entry.fields, event: JSON.parse(entry.fields.event) as unknown },
      {
        id: row.id,
        op: 'UPDATE',
        table: `public.${table}`,
        event: {
          id: row.id,
          schema: 'public',
          table,
          op: 'UPDATE',
          data: { id: Number(row.id), status: 'new' },
          old: { id: Number(row.id), status: 'old' },
          txid: '1000',
          ts: row.ts,
        },
      },
    );
    // {channel} in the template: a row event gets it empty, a channel event its name.
    const [channelEntry] = await readStream(admin, `pgbridge:.jobs_${tag}`);
    await admin.del(`pgbridge:.jobs_${tag}`);
    assert.deepEqual(Object.keys(channelEntry.fields), ['id', 'op', 'channel', 'event']);
    assert.deepEqual(channelEntry.fields, {
      id: notice.id,
      op: 'NOTIFY',
      channel: `jobs_${tag}`,
      event: `{"id":"${notice.id}","channel":"jobs_${tag}","payload":"plain text","ts":"${notice.ts}"}`,
    });
  });

  test('format cloudevents: the event field is a structured CloudEvent that the CloudEvents SDK parses and validates', async (t) => {
    const key = `pgbridge:ce_${tag}`;
    t.after(() => admin.del(key));
    const s = await connected(t, REDIS_URL, { stream: key, format: 'cloudevents' });
    const row = rowEvent({ table, op: 'UPDATE' });
    const notice = channelEvent({ channel: `jobs_${tag}`, payload: '{"job":7}' });
    await s.send([row, notice], never);
    const [rowEntry, channelEntry] = await readStream(admin, key);
    const parse = (body: string) => {
      const parsed = HTTP.toEvent({ headers: { 'content-type': 'application/cloudevents+json' }, body });
      assert.ok(!Array.isArray(parsed), 'one event, not a batch');
      const event = parsed as CloudEvent;
      assert.equal(event.validate(), true);
      return event;
    };
    const rowCe = parse(rowEntry.fields.event);
    assert.deepEqual(
      { id: rowCe.id, type: rowCe.type, source: rowCe.source, subject: rowCe.subject, datacontenttype: rowCe.datacontenttype, data: rowCe.data },
      {
        id: row.id,
        type: 'pgbridge.row.update',
        source: `/pgbridge/itdb/public.${table}`,
        subject: row.id,
        datacontenttype: 'application/json',
        data: { data: JSON.parse(row.data) as unknown, old: JSON.parse(row.old!) as unknown },
      },
    );
    const channelCe = parse(channelEntry.fields.event);
    assert.deepEqual(
      { id: channelCe.id, type: channelCe.type, source: channelCe.source, data: channelCe.data },
      { id: notice.id, type: 'pgbridge.notify', source: `/pgbridge/itdb/channel/jobs_${tag}`, data: { job: 7 } },
    );
  });

  test('maxlen trims approximately (MAXLEN ~): the stream keeps at least maxlen entries and far fewer than were added', async (t) => {
    const key = `pgbridge:trim_${tag}`;
    const s = await connected(t, REDIS_URL, { stream: key, maxlen: 100 });
    const events: BridgeEvent[] = Array.from({ length: 2000 }, () => rowEvent({ table }));
    for (let i = 0; i < events.length; i += s.maxBatch) await s.send(events.slice(i, i + s.maxBatch), never);
    const length = await admin.xLen(key);
    t.diagnostic(`XLEN after 2000 XADDs with maxlen 100: ${length}`);
    assert.ok(length >= 100 && length < 1000, `XLEN ${length}`);
    const newest = await readStream(admin, key);
    assert.equal(newest.at(-1)?.fields.id, events.at(-1)?.id, 'the newest entries are kept');
  });

  test('without maxlen nothing is trimmed', async (t) => {
    const s = await connected(t, REDIS_URL);
    const before = await admin.xLen(stream);
    await s.send(
      Array.from({ length: 300 }, () => rowEvent({ table })),
      never,
    );
    assert.equal((await admin.xLen(stream)) - before, 300);
  });
});

describe('redis sink: what is retried and what is permanent', () => {
  test('WRONGTYPE (the key holds a string): permanent for that event only; the rest of the batch is written', async (t) => {
    const s = await connected(t, REDIS_URL, { stream: '{table}' });
    await admin.set(`denied:${tag}`, 'a string');
    const good = [rowEvent({ table: `allowed:${tag}` }), rowEvent({ table: `allowed:${tag}` })];
    const doomed = rowEvent({ table: `denied:${tag}` });
    const err = await rejection(s.send([good[0], doomed, good[1]], never));
    assert.ok(err instanceof PermanentError, String(err));
    assert.deepEqual(err.failedIds, [doomed.id]);
    assert.match(err.message, /WRONGTYPE/);
    assert.deepEqual(
      (await readStream(admin, `allowed:${tag}`)).map((e) => e.fields.id),
      good.map((e) => e.id),
    );
    assert.ok(s.isReady(), 'a refused entry does not cost the connection');
  });

  describe('with an ACL user made for the test', () => {
    const user = `pgbridge_test_${tag}`;
    const password = `pw-${randomBytes(12).toString('hex')}`;
    before(async () => {
      // May append to streams under allowed:* only, and may not run XADD at all as the second user.
      await admin.sendCommand(['ACL', 'SETUSER', user, 'on', `>${password}`, `~allowed:${tag}*`, '+@all']);
      await admin.sendCommand(['ACL', 'SETUSER', `${user}_noxadd`, 'on', `>${password}`, '~*', '+@all', '-xadd']);
    });
    after(async () => {
      await admin.sendCommand(['ACL', 'DELUSER', user, `${user}_noxadd`]);
    });
    const urlOf = (name: string, pass: string): string => {
      const url = new URL(REDIS_URL);
      url.username = name;
      url.password = pass;
      return url.toString();
    };

    test('WRONGPASS: retried (an operator fixes the password, nothing is dead-lettered), not ready, the password in no message', async (t) => {
      const s = sink(t, urlOf(user, 'not-the-password'));
      const err = await rejection(s.connect(never));
      assert.ok(err instanceof RetriableError, String(err));
      assert.match(err.message, /WRONGPASS/);
      assert.equal(s.isReady(), false);
      const good = await connected(t, urlOf(user, password));
      assert.ok(good.isReady(), 'the right password connects');
      assert.ok(!err.message.includes(password) && !err.message.includes('not-the-password'), err.message);
    });

    test('NOPERM on a key: permanent for that event only; NOPERM on the command: retried, for every event alike', async (t) => {
      const s = await connected(t, urlOf(user, password), { stream: '{table}' });
      const good = rowEvent({ table: `allowed:${tag}` });
      const doomed = rowEvent({ table: `denied:${tag}:other` });
      const err = await rejection(s.send([good, doomed], never));
      assert.ok(err instanceof PermanentError, String(err));
      assert.deepEqual(err.failedIds, [doomed.id]);
      assert.match(err.message, /NOPERM/);
      assert.ok(
        (await readStream(admin, `allowed:${tag}`)).some((e) => e.fields.id === good.id),
        'the allowed event was written',
      );

      const noXadd = await connected(t, urlOf(`${user}_noxadd`, password), { stream: '{table}' });
      const refused = await rejection(noXadd.send([rowEvent({ table: `allowed:${tag}` })], never));
      assert.ok(refused instanceof RetriableError, String(refused));
      assert.match(refused.message, /NOPERM/);
      assert.match(refused.message, /xadd/);
      assert.equal(noXadd.isReady(), false, 'not ready until connect() succeeds again');
    });
  });

  describe('with a private redis-server (requirepass; maxmemory set below what it holds)', () => {
    let server: PrivateRedis;
    const password = `pw-${randomBytes(12).toString('hex')}`;
    before(async () => {
      server = await PrivateRedis.start(['--requirepass', password, '--maxmemory-policy', 'noeviction']);
    });
    after(() => server?.stop());

    test('NOAUTH (no password for a server that requires one): retried, not ready', async (t) => {
      const s = sink(t, server.url);
      const err = await rejection(s.connect(never));
      assert.ok(err instanceof RetriableError, String(err));
      assert.match(err.message, /NOAUTH/);
      assert.equal(s.isReady(), false);
    });

    test('OOM (maxmemory reached): retried, nothing of the batch written; once memory is freed the same batch arrives', async (t) => {
      const url = new URL(server.url);
      url.password = password;
      const filler = await redisAdmin(url.toString());
      t.after(() => filler.close());
      // 4 MB of data, then maxmemory set 1 MB below what is used: well over the limit, whatever small buffers come and go.
      for (let i = 0; i < 64; i++) await filler.set(`fill:${i}`, 'x'.repeat(64 * 1024));
      const used = Number(/used_memory:(\d+)/.exec(await filler.info('memory'))![1]);
      await filler.configSet('maxmemory', String(used - 1024 * 1024));
      const s = await connected(t, url.toString(), { stream: 'oom' });
      const batch = [rowEvent(), rowEvent(), rowEvent()];
      const err = await rejection(s.send(batch, never));
      assert.ok(err instanceof RetriableError, String(err));
      assert.match(err.message, /OOM/);
      assert.equal(await filler.exists('oom'), 0, 'the discarded transaction wrote nothing');
      assert.ok(s.isReady(), 'OOM does not cost the connection');

      await filler.flushDb(); // the private server only
      await filler.configSet('maxmemory', '0');
      await s.send(batch, never);
      assert.deepEqual(
        (await readStream(filler, 'oom')).map((e) => e.fields.id),
        batch.map((e) => e.id),
      );
    });
  });

  test('connection refused: retried, not ready; the message names the server, not the password', async (t) => {
    const port = await freePort();
    const s = sink(t, `redis://someone:s3cret-pw@127.0.0.1:${port}`);
    const err = await rejection(s.connect(never));
    assert.ok(err instanceof RetriableError, String(err));
    assert.match(err.message, /ECONNREFUSED/);
    assert.ok(!err.message.includes('s3cret-pw'));
    assert.equal(s.isReady(), false);
    const send = await rejection(s.send([rowEvent()], never));
    assert.ok(send instanceof RetriableError, 'send while not connected is retriable');
  });

  test('rediss:// to a plain-text port: the TLS handshake never completes; retried after connect_timeout_ms', async (t) => {
    const url = new URL(REDIS_URL);
    url.protocol = 'rediss:';
    const s = sink(t, url.toString(), { connect_timeout_ms: 1000 });
    const err = await rejection(s.connect(never));
    assert.ok(err instanceof RetriableError, String(err));
    assert.match(err.message, /TLS/);
  });

  describe('rediss:// to a private TLS redis-server', () => {
    let server: PrivateRedis;
    let ca: string;
    before(async () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'pgbridge-redis-tls-'));
      const [cert, key] = [path.join(dir, 'cert.pem'), path.join(dir, 'key.pem')];
      execFileSync(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'rsa:2048',
          '-nodes',
          '-keyout',
          key,
          '-out',
          cert,
          '-days',
          '1',
          '-subj',
          '/CN=pgbridge-test',
          '-addext',
          'subjectAltName=IP:127.0.0.1',
        ],
        { stdio: 'ignore' },
      );
      ca = readFileSync(cert, 'utf8');
      server = await PrivateRedis.start([], { cert, key, ca: cert });
    });
    after(() => server?.stop());

    test('with its CA in tls.ca: delivered over TLS', async (t) => {
      const s = await connected(t, server.url, { stream: 'tls', tls: { ca } });
      const event = rowEvent();
      await s.send([event], never);
      const reader = await redisAdmin(server.url, ca);
      t.after(() => reader.close());
      assert.deepEqual(
        (await readStream(reader, 'tls')).map((e) => e.fields.id),
        [event.id],
      );
    });

    test('without it: the certificate is refused; retried (an operator supplies the CA), not ready', async (t) => {
      const s = sink(t, server.url);
      const err = await rejection(s.connect(never));
      assert.ok(err instanceof RetriableError, String(err));
      assert.match(err.message, /self.signed|certificate/i);
      assert.equal(s.isReady(), false);
    });
  });
});
