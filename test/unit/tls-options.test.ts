import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { Scrubber } from '../../src/secrets.js';
import { assertTlsOptions, nodeTlsOptions, tlsOptionsProblem, tlsSecrets } from '../../src/sinks/tls-options.js';

const dir = mkdtempSync(path.join(tmpdir(), 'pgbridge-tls-'));

/** A config with one sink of `type` whose TLS map (`key`) says rejectUnauthorized: ${VERIFY}. */
function load(type: 'redis' | 'mqtt' | 'kafka', verify: string) {
  const sink =
    type === 'redis'
      ? { name: 's', type, url: 'rediss://127.0.0.1:6380', tls: { rejectUnauthorized: '${VERIFY}' } }
      : type === 'mqtt'
        ? { name: 's', type, url: 'mqtts://127.0.0.1:8883', tls: { rejectUnauthorized: '${VERIFY}' } }
        : { name: 's', type, brokers: ['127.0.0.1:9093'], ssl: { rejectUnauthorized: '${VERIFY}' } };
  const file = path.join(dir, `${type}.json`);
  writeFileSync(file, JSON.stringify({ postgres: { url: 'postgres://127.0.0.1/app' }, capture: ['orders'], sinks: [sink] }));
  return loadConfig(file, { VERIFY: verify });
}

describe('TLS option maps', () => {
  test('rejectUnauthorized from ${NAME} reaches tls.connect as a boolean: false stays false', () => {
    assert.deepEqual(nodeTlsOptions({ rejectUnauthorized: 'false', servername: 'x' }), { rejectUnauthorized: false, servername: 'x' });
    assert.deepEqual(nodeTlsOptions({ rejectUnauthorized: 'true' }), { rejectUnauthorized: true });
    assert.deepEqual(nodeTlsOptions({ rejectUnauthorized: false }), { rejectUnauthorized: false });
  });

  for (const type of ['redis', 'mqtt', 'kafka'] as const) {
    test(`${type}: a value that is neither true nor false is a config error naming the key`, () => {
      assert.doesNotThrow(() => load(type, 'false'));
      assert.throws(() => load(type, 'no'), /sinks\[0\]\.(tls|ssl).*rejectUnauthorized must be true or false/);
    });
  }

  test("options tls.connect takes beyond createSecureContext's are not refused as unknown: requestOCSP, the socket's family, keepAlive, …", () => {
    for (const [key, value] of Object.entries({
      requestOCSP: true,
      family: 4,
      localAddress: '127.0.0.1',
      keepAlive: true,
      noDelay: true,
      autoSelectFamily: false,
    })) {
      assert.doesNotThrow(() => assertTlsOptions({ [key]: value }), key);
    }
    assert.throws(() => assertTlsOptions({ rejectUnauthorised: false }), /is not an option of Node's tls\.connect/);
  });

  test('other options are left as they are', () => {
    assert.equal(tlsOptionsProblem({ ca: '-----BEGIN CERTIFICATE-----', servername: 'db' }), undefined);
  });

  test('the private key (whole, and each line of its body) and the passphrase are secrets; certificates and other options are not', () => {
    const key =
      '-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIFHDBOBgkqhkiG9w0BBQ0wQTApBgkqhkiG9w0BBQwwHAQI\nq1w2e3r4t5y6u7i8==\n-----END ENCRYPTED PRIVATE KEY-----\n';
    const secrets = tlsSecrets({
      ca: '-----BEGIN CERTIFICATE-----\nMIIBcertificate\n-----END CERTIFICATE-----',
      key,
      passphrase: 'open-sesame',
      servername: 'db',
    });
    assert.deepEqual(secrets.sort(), ['MIIFHDBOBgkqhkiG9w0BBQ0wQTApBgkqhkiG9w0BBQwwHAQI', 'open-sesame', 'q1w2e3r4t5y6u7i8==', key].sort());
    assert.deepEqual(tlsSecrets({ key: [{ pem: key, passphrase: 'per-key-phrase' }] }).includes('per-key-phrase'), true);
    assert.deepEqual(tlsSecrets({ passphrase: 'hunter2' }), ['hunter2'], 'a passphrase of any length (PEM lines only from 8)');
    assert.deepEqual(tlsSecrets(true), []);
    assert.deepEqual(tlsSecrets(null), []);
  });

  for (const type of ['redis', 'mqtt', 'kafka'] as const) {
    test(`${type}: a key's line or passphrase an error quotes is masked`, () => {
      const dir2 = mkdtempSync(path.join(tmpdir(), 'pgbridge-tls-secrets-'));
      const tls = { key: '-----BEGIN PRIVATE KEY-----\nAAAAkeybodyline0123456789\n-----END PRIVATE KEY-----', passphrase: '${PHRASE}' };
      const sink =
        type === 'redis'
          ? { name: 's', type, url: 'rediss://127.0.0.1:6380', tls }
          : type === 'mqtt'
            ? { name: 's', type, url: 'mqtts://127.0.0.1:8883', tls }
            : { name: 's', type, brokers: ['127.0.0.1:9093'], ssl: tls };
      const file = path.join(dir2, `${type}.json`);
      writeFileSync(file, JSON.stringify({ postgres: { url: 'postgres://127.0.0.1/app' }, capture: ['orders'], sinks: [sink] }));
      const { secrets } = loadConfig(file, { PHRASE: 'phrase-from-env' });
      assert.equal(new Scrubber(secrets).scrub('bad decrypt phrase-from-env near AAAAkeybodyline0123456789'), 'bad decrypt *** near ***');
    });
  }
});
