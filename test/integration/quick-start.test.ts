/**
 * The README's quick start, as written: `npm start` on the default config,
 * then the README's own psql INSERT, and the event it shows on stdout.
 * Only the database differs (DATABASE_URL, which the default config reads).
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { ROOT, waitFor } from '../support/bridge.js';
import { createTestDatabase } from '../support/pg.js';

const README = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const QUICK_START = README.slice(README.indexOf('## Quick start'), README.indexOf('\n## ', README.indexOf('## Quick start') + 1));
const DEFAULT_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

function fenced(lang: string): string[] {
  return [...QUICK_START.matchAll(new RegExp('```' + lang + '\\n([\\s\\S]*?)```', 'g'))].map((m) => m[1].trim());
}

test('README quick start: npm start, the psql INSERT, and the event it shows on stdout', async (t) => {
  const db = await createTestDatabase('pgbridge_quickstart');
  t.after(() => db.drop());
  const [commands, insert] = fenced('sh');
  assert.match(commands, /^npm ci && npm start\s/);
  const [shown] = fenced('json');

  const env = { ...process.env, DATABASE_URL: db.url, PGBRIDGE_HTTP_PORT: '0' };
  const npm = spawn('npm', ['start'], { cwd: ROOT, env, detached: true });
  t.after(() => {
    try {
      process.kill(-npm.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  });
  let stdout = '';
  let stderr = '';
  npm.stdout.on('data', (d) => (stdout += d));
  npm.stderr.on('data', (d) => (stderr += d));
  await waitFor(() => stderr.includes('"listening for notifications"'), 60_000, `the bridge listening (stderr so far: ${stderr.slice(-2000)})`);

  const [psql, url, flag, sql] = insert.match(/^(psql) (\S+) (-c) "(.*)"$/)!.slice(1);
  assert.equal(url, DEFAULT_URL);
  await promisify(execFile)(psql, [db.url, flag, sql]);
  await waitFor(() => stdout.includes('"op":"INSERT"'), 15_000, 'the event on stdout');

  const line = stdout.split('\n').find((l) => l.includes('"op":"INSERT"'))!;
  const event = JSON.parse(line) as Record<string, unknown>;
  const expected = JSON.parse(shown) as Record<string, unknown>;
  assert.deepEqual(Object.keys(event), Object.keys(expected));
  assert.deepEqual(Object.keys(event.data as object), Object.keys(expected.data as object));
  assert.ok(line.includes('"amount":9007199254740993'), `every digit kept: ${line}`);
  assert.deepEqual([event.schema, event.table, event.op, event.old], [expected.schema, expected.table, expected.op, expected.old]);
});
