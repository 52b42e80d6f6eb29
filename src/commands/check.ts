import { randomBytes } from 'node:crypto';
import pino from 'pino';
import type { BridgeConfig } from '../config/types.js';
import { errorMessage } from '../errors.js';
import { triggerCaptureState } from '../install/trigger-check.js';
import { walCheck } from '../install/wal-check.js';
import { connectClient, databaseName } from '../postgres.js';
import { outboxTable } from '../schema/outbox.js';
import type { Scrubber } from '../secrets.js';
import { createSinkClient } from '../sinks/create.js';
import type { SinkClient } from '../sinks/sink.js';

const TIMEOUT_MS = 10_000;

function withTimeout<T>(work: Promise<T>, what: string): Promise<T> {
  return Promise.race([
    work,
    new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`${what}: no answer within ${TIMEOUT_MS / 1000} s`)), TIMEOUT_MS).unref()),
  ]);
}

/** One line per component: ok or FAIL, each with its reason. Exit 1 when anything failed. */
export async function checkCommand(config: BridgeConfig, scrubber: Scrubber): Promise<number> {
  let failed = false;
  const line = (component: string, result: string) => {
    if (result.startsWith('FAIL')) failed = true;
    process.stdout.write(`${component}: ${scrubber.scrub(result)}\n`);
  };
  line('config', `ok (${config.file})`);

  let database = 'unknown';
  try {
    const db = await withTimeout(connectClient(config, 'check'), 'connect');
    try {
      database = await databaseName(db);
      line('postgres', `ok (database ${database})`);
      const { rows } = await db.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace WHERE s.nspname = $1 AND c.relname = $2',
        ['pgbridge', outboxTable(config.instance).split('.')[1]],
      );
      const installed = rows[0].n === 1;
      line('install', installed ? 'ok' : 'FAIL: pgbridge objects are missing; run `pgbridge install`');
      if (config.delivery === 'wal') for (const [component, result] of await walCheck(config, db)) line(component, result);
      else if (installed) line('capture', await triggerCaptureState(config, db));
      line('listen', await listenWorks(config));
    } finally {
      await db.end().catch(() => {});
    }
  } catch (err) {
    line('postgres', `FAIL: ${errorMessage(err)}`);
  }

  const logger = pino({ level: 'silent' });
  for (const sinkConfig of config.sinks) {
    const abort = new AbortController();
    let sink: SinkClient | undefined;
    try {
      sink = await createSinkClient(sinkConfig, { logger, format: { database } });
      await withTimeout(sink.connect(abort.signal), 'connect');
      line(`sink ${sinkConfig.name}`, `ok (${sinkConfig.type})`);
    } catch (err) {
      line(`sink ${sinkConfig.name}`, `FAIL: ${errorMessage(err)}`);
    } finally {
      abort.abort();
      await sink?.close().catch(() => {});
    }
  }
  return failed ? 1 : 0;
}

/** LISTEN fails silently behind a transaction-mode pooler: send ourselves a NOTIFY and wait for it. */
async function listenWorks(config: BridgeConfig): Promise<string> {
  const channel = `pgbridge_check_${randomBytes(4).toString('hex')}`;
  const listener = await connectClient(config, 'check listen');
  const sender = await connectClient(config, 'check notify');
  try {
    const heard = new Promise<boolean>((resolve) => {
      listener.on('notification', (n) => n.channel === channel && resolve(true));
      setTimeout(() => resolve(false), 3000).unref();
    });
    await listener.query(`LISTEN ${channel}`);
    await sender.query(`NOTIFY ${channel}, 'check'`);
    return (await heard)
      ? 'ok (LISTEN/NOTIFY works)'
      : 'FAIL: a NOTIFY was not received; LISTEN does not work through this connection (a transaction-mode pooler?)';
  } finally {
    await listener.end().catch(() => {});
    await sender.end().catch(() => {});
  }
}
