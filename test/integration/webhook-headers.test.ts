/**
 * The headers of a webhook request, read from the raw request at a real HTTP
 * server: in CloudEvents binary mode every key reaches the receiver, its
 * ce-* values percent-encoded as the CloudEvents HTTP binding says; a request
 * the HTTP client refuses to build for its event is dead-lettered, not retried;
 * the sink's `headers` replace pgbridge's defaults of the same name in any
 * case, and cannot name the headers pgbridge sets itself.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, PermanentError } from '../../src/errors.js';
import { binaryCloudEventOf } from '../support/binary-cloud-event.js';
import { cli, installAndRun, waitFor, writeConfig } from '../support/bridge.js';
import { rowEvent } from '../support/events.js';
import { createTestDatabase } from '../support/pg.js';
import { loadSinkConfig, sendError, silentContext, sinkFromConfig } from '../support/sink-config.js';
import { startedWebhook, type ReceivedRequest } from '../support/webhook-server.js';

/** Each header of a request once per name (lower case), with every value it came with, in order. */
function headerValues(request: ReceivedRequest): Map<string, string[]> {
  const values = new Map<string, string[]>();
  for (let i = 0; i < request.rawHeaders.length; i += 2) {
    const name = request.rawHeaders[i].toLowerCase();
    values.set(name, [...(values.get(name) ?? []), request.rawHeaders[i + 1]]);
  }
  return values;
}

describe('webhook, format cloudevents, cloudevents_mode binary', () => {
  test('every key arrives: ce-* values are percent-encoded (CloudEvents HTTP binding §3.1.3.2) and decode back to the key', async (t) => {
    const db = await createTestDatabase('pgbridge_headers');
    t.after(() => db.drop());
    await db.query('CREATE TABLE public.keyed (k text PRIMARY KEY, n int)');
    const hook = await startedWebhook(t);
    const file = writeConfig({
      postgres: { url: db.url },
      capture: [{ table: 'public.keyed' }],
      sinks: [
        {
          name: 'ce',
          type: 'webhook',
          url: hook.url,
          format: 'cloudevents',
          cloudevents_mode: 'binary',
          timeout_ms: 2000,
          retry: { initial_ms: 50, max_ms: 500 },
        },
      ],
      http: { port: 0 },
    });
    const bridge = await installAndRun(file);
    t.after(() => bridge.stop());

    // Written out from the binding: UTF-8 bytes of everything but printable ASCII, and space, " and %, as upper-case %XX.
    const subjects: Record<string, string> = {
      'Ω-key': '%CE%A9-key',
      'k é/1': 'k%20%C3%A9/1',
      '100% "q"': '100%25%20%22q%22',
      'line\nbreak\ttab': 'line%0Abreak%09tab',
      '😀': '%F0%9F%98%80',
      'plain-1': 'plain-1',
    };
    for (const key of Object.keys(subjects)) await db.query('INSERT INTO public.keyed VALUES ($1, 1)', [key]);
    await waitFor(() => hook.accepted().length >= Object.keys(subjects).length, 15_000, 'a request per row');
    const requests = hook.accepted();
    assert.equal(requests.length, Object.keys(subjects).length);

    const received = new Map(requests.map((request) => [headerValues(request).get('ce-subject')?.[0], request]));
    assert.deepEqual([...received.keys()].sort(), Object.values(subjects).sort(), 'ce-subject as it came over the wire');
    for (const [key, encoded] of Object.entries(subjects)) {
      const request = received.get(encoded)!;
      for (const [name, values] of headerValues(request)) {
        if (name.startsWith('ce-')) assert.match(values[0], /^(?:[\x21\x23\x24\x26-\x7e]|%[0-9A-F]{2})+$/, `${name}: ${values[0]}`);
      }
      const event = binaryCloudEventOf(Object.fromEntries([...headerValues(request)].map(([name, values]) => [name, values[0]])), request.body);
      assert.equal(event.subject, key);
      assert.equal(event.source, `/pgbridge/${db.name}/public.keyed`);
      assert.deepEqual(event.data, { data: { k: key, n: 1 }, old: null });
    }
  });
});

describe('webhook: a request the HTTP client refuses to build', () => {
  test('fails for good, naming its event (a dead letter, not a network retry); the sink stays ready and the next event goes', async (t) => {
    const hook = await startedWebhook(t);
    const sink = sinkFromConfig({ name: 'signed', type: 'webhook', url: hook.url, secret: 'whsec_c2VjcmV0LWtleQ==' }, silentContext('db'));
    t.after(() => sink.close());
    await sink.connect(new AbortController().signal);
    // pgbridge's ids are digits; this one stands for any event whose own text lands in a header undici refuses (webhook-id here).
    const doomed = rowEvent({ id: 'Ω-1' });
    const err = await sendError(sink, [doomed]);
    assert.ok(err instanceof PermanentError, `not a PermanentError: ${String(err)}`);
    assert.deepEqual(err.failedIds, [doomed.id]);
    assert.match(err.message, /invalid webhook-id header/);
    assert.equal(hook.requests.length, 0, 'nothing was sent');

    assert.ok(sink.isReady(), 'the receiver is not held for unreachable');
    const next = rowEvent();
    await sink.send([next], new AbortController().signal);
    assert.deepEqual(
      hook.accepted().map((r) => headerValues(r).get('webhook-id')),
      [[next.id]],
    );
  });
});

describe("webhook: your headers and pgbridge's", () => {
  test("a header of yours replaces pgbridge's default of the same name, whatever its case: sent once, spelled as you wrote it", async (t) => {
    const hook = await startedWebhook(t);
    const withCredentials = hook.url.replace('http://', 'http://alice:s3cret@');
    const sent = async (raw: Record<string, unknown>): Promise<ReceivedRequest> => {
      const sink = sinkFromConfig({ name: 'h', type: 'webhook', url: withCredentials, ...raw }, silentContext('db'));
      t.after(() => sink.close());
      await sink.connect(new AbortController().signal);
      await sink.send([rowEvent()], new AbortController().signal);
      return hook.accepted().at(-1)!;
    };

    const yours = await sent({ headers: { 'User-Agent': 'mine/1.0', AUTHORIZATION: 'Bearer t0ken', 'X-Trace': 'abc' } });
    const values = headerValues(yours);
    assert.deepEqual(values.get('user-agent'), ['mine/1.0']);
    assert.deepEqual(values.get('authorization'), ['Bearer t0ken']);
    assert.deepEqual(values.get('content-type'), ['application/json']);
    for (const name of ['User-Agent', 'AUTHORIZATION', 'X-Trace']) assert.ok(yours.rawHeaders.includes(name), `${name} spelled as written`);

    const defaults = headerValues(await sent({}));
    assert.deepEqual(defaults.get('user-agent'), ['pgbridge']);
    assert.deepEqual(defaults.get('authorization'), [`Basic ${Buffer.from('alice:s3cret').toString('base64')}`]);

    const binary = headerValues(
      await sent({ format: 'cloudevents', cloudevents_mode: 'binary', secret: 'whsec_c2VjcmV0LWtleQ==', headers: { 'X-Tenant': 'eu' } }),
    );
    for (const name of ['content-type', 'ce-id', 'ce-source', 'webhook-id', 'webhook-signature', 'user-agent', 'x-tenant'])
      assert.equal(binary.get(name)?.length, 1, `${name} once`);

    // The common `Content-Type: application/json` line still loads, and pgbridge's own is the one sent.
    const json = await sent({ headers: { 'Content-Type': 'application/json; charset=utf-8' } });
    assert.deepEqual(headerValues(json).get('content-type'), ['application/json']);
    assert.ok(!json.rawHeaders.includes('Content-Type'));
    const structured = await sent({ format: 'cloudevents', headers: { 'content-type': 'application/json' } });
    assert.deepEqual(headerValues(structured).get('content-type'), ['application/cloudevents+json']);
  });

  test('headers pgbridge sets itself, a name given twice (in any case) and a value HTTP cannot carry are config errors naming the key', async () => {
    const refused = (headers: Record<string, string>): string => {
      try {
        loadSinkConfig({ name: 'h', type: 'webhook', url: 'http://127.0.0.1:9/hook', headers });
      } catch (err) {
        assert.ok(err instanceof ConfigError, String(err));
        return err.message;
      }
      assert.fail(`accepted: ${JSON.stringify(headers)}`);
    };
    const own = {
      'Content-Type': 'text/plain',
      'content-length': '5',
      'Transfer-Encoding': 'chunked',
      Expect: '100-continue',
      'Keep-Alive': 'timeout=5',
      Upgrade: 'h2c',
      'Webhook-Id': 'x',
      'webhook-timestamp': '1',
      'WEBHOOK-SIGNATURE': 'v1,x',
      'CE-ID': 'x',
      'ce-source': '/mine',
      'Ce-Subject': 'x',
    };
    for (const [name, value] of Object.entries(own))
      assert.match(refused({ [name]: value }), new RegExp(`sinks\\[0\\]\\.headers\\.${name}: .*pgbridge sets`, 'i'));
    assert.match(refused({ 'X-A': '1', 'x-a': '2' }), /headers\.x-a: .*given twice/);
    assert.match(refused({ 'X-Name': 'Ωmega' }), /headers\.X-Name: /);
    assert.match(refused({ 'X-Name': 'a\u0001b' }), /headers\.X-Name: /);
    assert.match(refused({ 'X-Name': 'a\nb' }), /headers\.X-Name: /);

    const accepted = loadSinkConfig({
      name: 'h',
      type: 'webhook',
      url: 'http://127.0.0.1:9/hook',
      headers: { 'X-Name': 'café\ttab', Host: 'example.org' },
    });
    assert.equal(accepted.name, 'h');

    const file = writeConfig({
      capture: ['public.t'],
      sinks: [{ name: 'h', type: 'webhook', url: 'http://127.0.0.1:9/hook', headers: { 'Content-Type': 'text/plain' } }],
    });
    const checked = await cli(['check', '-c', file]);
    assert.equal(checked.code, 2);
    assert.match(checked.stderr, /sinks\[0\]\.headers\.Content-Type/);
  });
});
