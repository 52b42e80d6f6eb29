/**
 * A far end that quotes the credentials it was sent in its refusal: the
 * error the bridge keeps (log line, dead letter, status) holds none of them,
 * however the body is cut to size and in whatever form it quotes them, at a
 * real HTTP server, through the sink as the bridge wraps it (ScrubbedSink
 * with the config's secrets).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { Scrubber } from '../../src/secrets.js';
import { createSink } from '../../src/sinks/create.js';
import { ScrubbedSink } from '../../src/sinks/scrubbed-sink.js';
import type { Sink } from '../../src/sinks/sink.js';
import { writeConfig } from '../support/bridge.js';
import { rowEvent } from '../support/events.js';
import { sendError, silentContext } from '../support/sink-config.js';
import { startedWebhook } from '../support/webhook-server.js';

/** The bridge's own sink: config through the loader, errors through the scrubber of every secret in the file. */
function bridgeSink(raw: Record<string, unknown>): Sink {
  const config = loadConfig(writeConfig({ capture: [{ table: 'public.orders' }], sinks: [raw], http: { port: 0 } }));
  return new ScrubbedSink(createSink(config.sinks[0], silentContext('db')), new Scrubber(config.secrets));
}

/** The message of the error a send of one event fails with. */
async function refusal(sink: Sink): Promise<string> {
  await sink.connect(new AbortController().signal);
  const err = await sendError(sink, [rowEvent()]);
  assert.ok(err instanceof Error, String(err));
  return err.message;
}

describe('webhook: a refusal quoting the credentials', () => {
  test('a token across the cut (a refusal is quoted to 200 characters) leaves not even its start', async (t) => {
    const token = 'sk_live_0123456789abcdefghijklmnop';
    const hook = await startedWebhook(t);
    // The token starts 10 characters before the cut.
    hook.reply = (req) => ({ status: 401, body: `${'.'.repeat(183)}${String(req.headers.authorization)} is not valid here` });
    const sink = bridgeSink({ name: 'hook', type: 'webhook', url: hook.url, headers: { Authorization: `Bearer ${token}` } });
    t.after(() => sink.close());

    const message = await refusal(sink);
    assert.match(message, /HTTP 401: \.{183}/);
    assert.ok(!message.includes(token.slice(0, 8)), message);
  });

  test('a long token quoted twice, the body read to 1 KB: the second quote, cut at the end of what was read, leaves not its start', async (t) => {
    const token = `opaque_${'0123456789abcdef'.repeat(56)}`;
    const hook = await startedWebhook(t);
    hook.reply = (req) => {
      const quoted = String(req.headers.authorization).slice('Bearer '.length);
      return { status: 401, body: JSON.stringify({ error: 'invalid_token', token: quoted, detail: `token ${quoted} has expired` }) };
    };
    const sink = bridgeSink({ name: 'hook', type: 'webhook', url: hook.url, headers: { Authorization: `Bearer ${token}` } });
    t.after(() => sink.close());

    assert.equal(await refusal(sink), 'webhook hook: HTTP 401: {"error":"invalid_token","token":"***","detail":"token ***');
  });

  test('the 1 KB read cut through a multi-byte character of the second quote: its start is masked all the same', async (t) => {
    const token = `Geheim-${'x'.repeat(400)}\u00e4${'y'.repeat(40)}`;
    const quoted = `got ${token} / again: ${token}`;
    // Dots before it, so that the body's byte 1,024 falls inside the second quote's 'ä' (2 bytes).
    const pad = '.'.repeat(1023 - Buffer.byteLength(quoted.slice(0, quoted.lastIndexOf('\u00e4'))));
    const hook = await startedWebhook(t);
    hook.reply = () => ({ status: 401, body: `${pad}${quoted}` });
    const sink = bridgeSink({ name: 'hook', type: 'webhook', url: hook.url, headers: { Authorization: `Bearer ${token}` } });
    t.after(() => sink.close());

    const message = await refusal(sink);
    assert.ok(message.includes('got *** / again: '), message);
    assert.ok(!message.includes('Geheim'), message);
  });

  test('quoted in a JSON body, escaped as JSON.stringify and as Python json.dumps write it', async (t) => {
    const token = 'tok"en\\wïth-quötes';
    const pythonEscaped = 'tok\\"en\\\\w\\u00efth-qu\\u00f6tes';
    const hook = await startedWebhook(t);
    hook.reply = (req) => ({
      status: 403,
      body: `{"got":${JSON.stringify(req.headers['x-api-key'])},"python":"${pythonEscaped}"}`,
    });
    const sink = bridgeSink({ name: 'hook', type: 'webhook', url: hook.url, headers: { 'X-Api-Key': token } });
    t.after(() => sink.close());

    const message = await refusal(sink);
    assert.equal(message, 'webhook hook: HTTP 403: {"got":"***","python":"***"}');
  });

  test('a cookie value or a short token quoted alone, without its name or scheme', async (t) => {
    const hook = await startedWebhook(t);
    hook.reply = (req) => ({
      status: 401,
      body: `session ${/session=([^;]+)/.exec(String(req.headers.cookie))?.[1]} expired; token ${String(req.headers.authorization).split(' ')[1]} unknown`,
    });
    const sink = bridgeSink({
      name: 'hook',
      type: 'webhook',
      url: hook.url,
      headers: { Cookie: 'session=s3ss10n-0123456789; theme=dark', Authorization: 'Bearer Zq9x7Lp' },
    });
    t.after(() => sink.close());

    assert.equal(await refusal(sink), 'webhook hook: HTTP 401: session *** expired; token *** unknown');
  });
});
