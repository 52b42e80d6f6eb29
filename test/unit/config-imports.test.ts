import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { ROOT } from '../support/bridge.js';

/** Modules a static import of `file` reaches: type-only imports are erased and import() loads on demand, so neither counts. */
function reached(file: string, seen = new Set<string>()): Set<string> {
  if (seen.has(file)) return seen;
  seen.add(file);
  if (!file.startsWith('/')) return seen; // a package
  const text = readFileSync(file, 'utf8');
  const specifiers = [
    ...text.matchAll(/^import\s+(?!type\s)[^;]*?from\s+'([^']+)';/gms),
    ...text.matchAll(/^export\s+(?!type\s)[^;]*?from\s+'([^']+)';/gms),
    ...text.matchAll(/^import\s+'([^']+)';/gm),
  ].map((m) => m[1]);
  for (const specifier of specifiers) {
    const target = specifier.startsWith('.') ? path.resolve(path.dirname(file), specifier.replace(/\.js$/, '.ts')) : specifier.split('/')[0];
    reached(target, seen);
  }
  return seen;
}

test('loading and documenting the config loads no sink runtime, client library, source or delivery code', () => {
  const src = path.join(ROOT, 'src');
  const modules = new Set([...reached(path.join(src, 'config/load.ts')), ...reached(path.join(src, 'config/reference.ts'))]);
  const forbidden = [...modules].filter(
    (m) =>
      ['amqplib', 'kafkajs', 'undici', 'pg'].includes(m) ||
      /\/sinks\/[^/]+\/(sink|connect|producer|message|request)\.ts$/.test(m) ||
      /\/src\/(source|delivery|install)\//.test(m) ||
      m.endsWith('/src/app.ts'),
  );
  assert.deepEqual(forbidden, []);
  // And the descriptors are what the loader knows the sink types by.
  assert.ok([...modules].some((m) => m.endsWith('/sinks/kafka/descriptor.ts')));
});
