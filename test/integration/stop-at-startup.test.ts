/**
 * SIGTERM while delivery is starting (the lock just taken, the source starting):
 * a clean, quick exit. The stop used to be missed there (its abort event had
 * fired before delivery listened for it), and the process hung until the
 * hard stop (shutdown_timeout_ms + 5 s) exited with code 1.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, test } from 'node:test';
import { BIN, ROOT, cli, writeConfig } from '../support/bridge.js';
import { createTestDatabase, type TestDatabase } from '../support/pg.js';

const MODES = ['outbox', 'notify', 'wal'] as const;
let db: TestDatabase;
const configs = new Map<(typeof MODES)[number], string>();

before(async () => {
  db = await createTestDatabase();
  await db.query('CREATE TABLE items (id int PRIMARY KEY)');
  for (const mode of MODES) {
    const config = writeConfig({
      postgres: { url: db.url },
      delivery: mode,
      instance: `startup_${mode}`,
      ...(mode === 'wal' ? { wal: { slot: slotName() } } : {}),
      capture: [{ table: 'public.items', ops: ['insert'] }],
      sinks: [{ name: 'out', type: 'stdout' }],
      http: { port: 0 },
      shutdown_timeout_ms: 2000,
    });
    const installed = await cli(['install', '-c', config]);
    assert.equal(installed.code, 0, installed.stderr);
    configs.set(mode, config);
  }
});

/** Slots are per server: one named after this test's database. */
const slotName = (): string => `${db.name}_startup`.slice(0, 63);

after(async () => {
  // A database with a replication slot cannot be dropped (`uninstall` would drop it too, per instance).
  await db.query('SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active', [slotName()]);
  await db.drop();
});

/** Runs the bridge and sends SIGTERM the moment its log says `line`; its exit code and how long the exit took. */
function terminateAt(config: string, line: string): Promise<{ code: number | null; exitMs: number }> {
  const child = spawn(process.execPath, [BIN, 'run', '-c', config], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  let signalledAt = 0;
  let log = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    log += chunk;
    if (signalledAt === 0 && log.includes(line)) {
      signalledAt = Date.now();
      child.kill('SIGTERM');
    }
  });
  const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  return new Promise((resolve) =>
    child.on('exit', (code) => {
      clearTimeout(killer);
      resolve({ code, exitMs: signalledAt === 0 ? Number.NaN : Date.now() - signalledAt });
    }),
  );
}

for (const mode of MODES)
  for (const line of ['pgbridge starting', 'holding the delivery lock']) {
    test(`${mode}: SIGTERM as the log says "${line}": exit 0 within shutdown_timeout_ms, every time`, async () => {
      for (let i = 0; i < 5; i++) {
        const { code, exitMs } = await terminateAt(configs.get(mode)!, line);
        assert.equal(code, 0, `exit code of try ${i + 1}`);
        assert.ok(exitMs <= 2000, `try ${i + 1}: exit took ${exitMs} ms`);
      }
    });
  }
