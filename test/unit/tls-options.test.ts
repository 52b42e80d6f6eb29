import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { nodeTlsOptions, tlsOptionsProblem } from '../../src/sinks/tls-options.js';

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

  test('other options are left as they are', () => {
    assert.equal(tlsOptionsProblem({ ca: '-----BEGIN CERTIFICATE-----', servername: 'db' }), undefined);
  });
});
