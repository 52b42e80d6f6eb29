/**
 * Every kind of secret at once — the Postgres URL password, a webhook signing
 * secret, webhook URL user:password, Authorization and API-key headers, an
 * AMQP URL password, a Kafka SASL password — while sinks fail (refused, wrong
 * password, no SASL on the broker) and succeed. No secret, nor its URL-encoded
 * or base64 form, may appear in a log line, `pgbridge check`, `dead-letters
 * list`, the dead-letter table's error text, /metrics or /readyz.
 * Then TLS settings reach the wire: sslmode, amqps:// and Kafka ssl.
 */
import assert from 'node:assert/strict';
import net, { type AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { cli, installAndRun, type RunningBridge, waitFor, writeConfig } from '../support/bridge.js';
import { kafkaBrokers } from '../support/kafka.js';
import { createTestDatabase, type TestDatabase } from '../support/pg.js';
import { WebhookServer } from '../support/webhook-server.js';
import { closedPort } from '../integration/outbox-harness.js';

const AMQP_HOST = '127.0.0.1:5672';
const PG_PASSWORD = 'pg-p@ss/w0rd-secret';
const URL_USER = 'alice';
const URL_PASSWORD = 'hook-url-p@ss:w0rd';
const SIGNING_KEY = 'signing-key-bytes-secret';
const SIGNING_SECRET = `whsec_${Buffer.from(SIGNING_KEY).toString('base64')}`;
const BEARER = 'bearer-token-secret-0123';
const API_KEY = 'api-key-secret-4567';
const AMQP_PASSWORD = 'amqp-wr0ng-secret';
const KAFKA_PASSWORD = 'kafka-sasl-secret-89';

/** Each secret as written, URL-encoded and base64-encoded, plus the Basic credentials as sent. */
function forbiddenForms(): string[] {
  const raw = [PG_PASSWORD, URL_PASSWORD, SIGNING_KEY, SIGNING_SECRET, BEARER, API_KEY, AMQP_PASSWORD, KAFKA_PASSWORD];
  const forms = raw.flatMap((s) => [s, encodeURIComponent(s), Buffer.from(s).toString('base64')]);
  forms.push(Buffer.from(`${URL_USER}:${URL_PASSWORD}`).toString('base64'));
  return [...new Set(forms)];
}

function assertNoSecret(where: string, text: string): void {
  assert.ok(text.length > 0, `${where}: nothing to look at`);
  for (const secret of forbiddenForms()) assert.ok(!text.includes(secret), `${where} holds ${secret}:\n${text.slice(0, 2000)}`);
}

describe('secrets of every kind stay secret while sinks fail and succeed', () => {
  let db: TestDatabase;
  let hook: WebhookServer;
  let bridge: RunningBridge;
  let config: string;
  let httpPort: number;

  before(async () => {
    db = await createTestDatabase('pgbridge_secrets');
    await db.query('CREATE TABLE items (id int PRIMARY KEY)');
    hook = new WebhookServer();
    // A careless far end that echoes the credentials it was sent in its error body.
    hook.reply = (req) =>
      req.body.includes('"data":{"id":1}')
        ? { status: 401, body: `rejected ${req.headers.authorization} ${req.headers['x-api-key']} ${req.headers['webhook-signature']}` }
        : { status: 204 };
    const hookUrl = (await hook.start()).replace('http://', `http://${URL_USER}:${encodeURIComponent(URL_PASSWORD)}@`);
    httpPort = await closedPort();
    const retry = { initial_ms: 50, max_ms: 200, max_attempts: 2 };
    config = writeConfig({
      postgres: { url: db.url.replace('postgres@', `postgres:${encodeURIComponent(PG_PASSWORD)}@`) },
      capture: [{ table: 'items' }],
      sinks: [
        {
          name: 'hook',
          type: 'webhook',
          url: hookUrl,
          secret: SIGNING_SECRET,
          headers: { Authorization: `Bearer ${BEARER}`, 'X-Api-Key': API_KEY },
          retry: { ...retry, max_attempts: 1 },
        },
        { name: 'basic', type: 'webhook', url: hookUrl.replace(/\/hook$/, '/basic'), retry: { ...retry, max_attempts: 1 } },
        {
          name: 'queue',
          type: 'amqp',
          url: `amqp://guest:${encodeURIComponent(AMQP_PASSWORD)}@${AMQP_HOST}`,
          exchange: 'pgbridge-secrets',
          retry,
          connect_timeout_ms: 3000,
        },
        {
          name: 'log',
          type: 'kafka',
          brokers: await kafkaBrokers(),
          sasl: { mechanism: 'plain', username: 'bridge', password: KAFKA_PASSWORD },
          retry,
          timeout_ms: 3000,
        },
      ],
      http: { port: httpPort, host: '127.0.0.1' },
    });
    bridge = await installAndRun(config);
  });

  after(async () => {
    await bridge?.kill('SIGTERM');
    await hook?.stop();
    await db?.drop();
  });

  test('logs, check, dead letters, /metrics and /readyz hold none of them', async (t) => {
    await db.query('INSERT INTO items VALUES (1)');
    // Each sink fails in its own way: 401 (permanent), a refused AMQP login, a broker without SASL.
    await waitFor(
      async () => (await db.query('SELECT DISTINCT sink FROM pgbridge.dead_letters')).rowCount === 4,
      60_000,
      'a dead letter from each sink',
    );
    await db.query('INSERT INTO items VALUES (2)');
    await waitFor(() => hook.delivered().length === 2, 15_000, 'both webhooks to accept the second event');
    const sent = (path: string) => hook.requests.find((r) => r.url === path)!.headers.authorization;
    assert.equal(sent('/hook'), `Bearer ${BEARER}`, 'the header went out as configured');
    assert.equal(sent('/basic'), `Basic ${Buffer.from(`${URL_USER}:${URL_PASSWORD}`).toString('base64')}`, 'URL credentials went out as Basic');

    const metrics = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
    const readyz = await (await fetch(`http://127.0.0.1:${httpPort}/readyz`)).text();
    const check = await cli(['check', '-c', config]);
    const list = await cli(['dead-letters', 'list', '-c', config]);
    const { rows } = await db.query<{ sink: string; error: string }>('SELECT sink, error FROM pgbridge.dead_letters ORDER BY sink');
    assert.equal(await bridge.kill('SIGTERM'), 0);

    assert.equal(check.code, 1, 'check fails for the AMQP and Kafka sinks');
    assert.match(check.stdout, /^sink queue: FAIL/m);
    assert.match(check.stdout, /^sink log: FAIL/m);
    for (const sink of ['hook', 'basic']) assert.match(rows.find((r) => r.sink === sink)!.error, /HTTP 401: rejected/);
    t.diagnostic(`dead letter errors: ${JSON.stringify(rows)}`);

    assertNoSecret('the log', bridge.logLines.join('\n'));
    assertNoSecret('pgbridge check', check.stdout + check.stderr);
    assertNoSecret('pgbridge dead-letters list', list.stdout + list.stderr);
    assertNoSecret('the dead letters error column', rows.map((r) => r.error).join('\n'));
    assertNoSecret('/metrics', metrics);
    assertNoSecret('/readyz', readyz);
  });
});

/** Records the first bytes of each connection and hangs up: shows what a client sends first. */
class WireSniffer {
  readonly firstBytes: Buffer[] = [];
  private readonly server = net.createServer((socket) => {
    socket.once('data', (data: Buffer) => {
      this.firstBytes.push(data);
      socket.destroy();
    });
    socket.on('error', () => {});
  });

  async start(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return (this.server.address() as AddressInfo).port;
  }

  /** A TLS record of type handshake (a ClientHello) starts 0x16 0x03. */
  sawTlsHello(): boolean {
    return this.firstBytes.some((b) => b[0] === 0x16 && b[1] === 0x03);
  }

  /** Postgres' SSLRequest: length 8, code 80877103. */
  sawPostgresSslRequest(): boolean {
    return this.firstBytes.some((b) => b.length >= 8 && b.readInt32BE(0) === 8 && b.readInt32BE(4) === 80877103);
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

describe('TLS settings reach the clients', () => {
  const base = (postgresUrl: string, sinks: object[]): string =>
    writeConfig({ postgres: { url: postgresUrl }, capture: [{ table: 'items' }], sinks, http: { port: 0 } });

  test('sslmode=require against this non-SSL Postgres: check fails with a clear reason', async () => {
    const url = `postgres://postgres@127.0.0.1:5432/postgres?sslmode=require`;
    const result = await cli(['check', '-c', base(url, [{ name: 'out', type: 'stdout' }])]);
    assert.equal(result.code, 1);
    assert.match(result.stdout, /^postgres: FAIL: .*does not support SSL/m);
  });

  test('sslmode=prefer asks for TLS as libpq would, without the non-JSON warning pg prints; an unknown sslmode is a config error', async () => {
    const prefer = await cli(['check', '-c', base('postgres://postgres@127.0.0.1:5432/postgres?sslmode=prefer', [{ name: 'out', type: 'stdout' }])]);
    assert.equal(prefer.code, 1);
    assert.match(prefer.stdout, /^postgres: FAIL: .*does not support SSL/m);
    assert.doesNotMatch(prefer.stderr, /SECURITY WARNING/);
    const disabled = await cli([
      'check',
      '-c',
      base('postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable', [{ name: 'out', type: 'stdout' }]),
    ]);
    assert.match(disabled.stdout, /^postgres: ok/m);
    const bogus = await cli(['check', '-c', base('postgres://postgres@127.0.0.1:5432/postgres?sslmode=bogus', [{ name: 'out', type: 'stdout' }])]);
    assert.equal(bogus.code, 2);
    assert.match(bogus.stderr, /postgres\.url: sslmode "bogus" is not one of/);
  });

  test('sslmode=require, amqps:// and kafka ssl: each client opens with TLS; without them, in plain text', async () => {
    const sniffers = { pg: new WireSniffer(), amqps: new WireSniffer(), kafka: new WireSniffer(), plain: new WireSniffer() };
    const [pg, amqps, kafka, plain] = await Promise.all(Object.values(sniffers).map((s) => s.start()));
    try {
      const result = await cli([
        'check',
        '-c',
        base(`postgres://postgres@127.0.0.1:${pg}/postgres?sslmode=require`, [
          { name: 'tls-queue', type: 'amqp', url: `amqps://guest:guest@127.0.0.1:${amqps}`, exchange: 'x', connect_timeout_ms: 3000 },
          { name: 'tls-log', type: 'kafka', brokers: [`127.0.0.1:${kafka}`], ssl: { rejectUnauthorized: false }, timeout_ms: 3000 },
          { name: 'plain-queue', type: 'amqp', url: `amqp://guest:guest@127.0.0.1:${plain}`, exchange: 'x', connect_timeout_ms: 3000 },
        ]),
      ]);
      assert.equal(result.code, 1);
      for (const component of ['postgres', 'sink tls-queue', 'sink tls-log', 'sink plain-queue'])
        assert.match(result.stdout, new RegExp(`^${component}: FAIL`, 'm'));
      assert.ok(sniffers.pg.sawPostgresSslRequest(), 'sslmode=require: the Postgres client asked for SSL first');
      assert.ok(sniffers.amqps.sawTlsHello(), 'amqps://: a TLS ClientHello');
      assert.ok(sniffers.kafka.sawTlsHello(), 'kafka ssl: a TLS ClientHello');
      assert.ok(
        sniffers.plain.firstBytes.some((b) => b.subarray(0, 4).toString() === 'AMQP') && !sniffers.plain.sawTlsHello(),
        'amqp://: plain AMQP',
      );
    } finally {
      await Promise.all(Object.values(sniffers).map((s) => s.stop()));
    }
  });
});
