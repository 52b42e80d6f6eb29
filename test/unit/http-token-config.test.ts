import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';
import { Scrubber } from '../../src/secrets.js';
import { writeConfig } from '../support/bridge.js';

const base = { postgres: { url: 'postgres://127.0.0.1/app' }, capture: ['orders'], sinks: [{ name: 'out', type: 'stdout' }] };

test('http.token comes from the environment and is a secret: the scrubber masks it', () => {
  const file = writeConfig({ ...base, http: { token: '${PGBRIDGE_TOKEN}' } });
  const config = loadConfig(file, { PGBRIDGE_TOKEN: 'tok-3f9a2c71' });
  assert.equal(config.http.token, 'tok-3f9a2c71');
  assert.ok(config.secrets.includes('tok-3f9a2c71'));
  assert.equal(new Scrubber(config.secrets).scrub('Bearer tok-3f9a2c71 refused'), 'Bearer *** refused');
});

test('http.token defaults to none; a token that is not a string is a config error naming the key', () => {
  assert.equal(loadConfig(writeConfig(base), {}).http.token, '');
  assert.throws(
    () => loadConfig(writeConfig({ ...base, http: { token: 12345 } }), {}),
    (err: unknown) => err instanceof ConfigError && /http\.token/.test(err.message) && !err.message.includes('12345'),
  );
});
