import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import YAML from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import { sinkTypes } from '../../src/sinks/registry.js';
import { ROOT } from '../support/bridge.js';

const CONFIG_DIR = path.join(ROOT, 'config');
// Only what a file requires without a default; everything else falls back to its ${NAME:-default}.
const ENV = { WEBHOOK_SECRET: `whsec_${randomBytes(24).toString('base64')}` };

describe('the example configs in config/', () => {
  const files = readdirSync(CONFIG_DIR).filter((f) => /\.ya?ml$|\.json$/.test(f));

  test('there are the default, the compose and the complete example config', () => {
    for (const name of ['pgbridge.yaml', 'compose.yaml', 'example.yaml']) assert.ok(files.includes(name), name);
  });

  for (const file of files) {
    test(`${file} loads cleanly through the config loader`, () => {
      const config = loadConfig(path.join(CONFIG_DIR, file), ENV);
      assert.ok(config.sinks.length > 0);
    });
  }

  test('example.yaml has a sink of every type, each reached by a route', () => {
    const config = loadConfig(path.join(CONFIG_DIR, 'example.yaml'), ENV);
    assert.deepEqual(new Set(config.sinks.map((s) => s.type)), new Set(sinkTypes.keys()));
    const routed = new Set(config.routes?.flatMap((r) => r.to));
    for (const sink of config.sinks) assert.ok(routed.has(sink.name), `no route to ${sink.name}`);
  });

  test('example.yaml spells out every option of the broker sinks', () => {
    const raw = YAML.parse(readFileSync(path.join(CONFIG_DIR, 'example.yaml'), 'utf8')) as { sinks: Record<string, unknown>[] };
    for (const type of ['amqp', 'kafka']) {
      const sink = raw.sinks.find((s) => s.type === type);
      assert.ok(sink, `no ${type} sink`);
      const missing = Object.keys(sinkTypes.get(type)!.schema).filter((key) => !(key in sink));
      assert.deepEqual(missing, [], `${type} options missing from example.yaml`);
    }
  });
});
