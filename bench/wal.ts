/**
 * `npm run bench:wal [-- --rows N]`: one transaction of N rows (default
 * 2,000,000) into a table of the wal publication while `pgbridge run` streams
 * it to stdout (/dev/null): the bridge's peak RSS (memory stays bounded
 * whatever the transaction's size), the rate from COMMIT to the last delivery
 * and the CPU per 10k events. Too long for `npm run bench`, which measures the
 * wal mode's rates, drains and latency (bench/plan.ts).
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import { BridgeProcess, freePort, writeConfig } from './bridge.js';
import { monoMs } from './stats.js';
import { createBenchDatabase, freshSlot, INSTANCES, TABLES, WAL_PUBLICATION } from './workloads.js';

const { values: args } = parseArgs({ options: { rows: { type: 'string', default: '2000000' } } });
const ROWS = Number(args.rows);
const WAIT_MS = 900_000;
const step = (what: string): void => void process.stderr.write(`bench:wal ${what}\n`);

async function main(): Promise<void> {
  const db = await createBenchDatabase();
  try {
    await freshSlot(db, db.slots.bridge);
    const port = await freePort();
    const file = writeConfig({
      postgres: { url: db.url },
      delivery: 'wal',
      instance: INSTANCES.wal,
      wal: { slot: db.slots.bridge, publication: WAL_PUBLICATION },
      capture: [{ table: `public.${TABLES.wal}`, ops: ['insert'] }],
      sinks: [{ name: 'out', type: 'stdout' }],
      http: { port, host: '127.0.0.1' },
      log: { level: 'info' },
    });
    const bridge = new BridgeProcess(file, port);
    try {
      await bridge.ready('streaming changes from the replication slot');
      const baselineMb = bridge.sample()?.rssMb ?? Number.NaN;
      step(`inserting ${ROWS} rows in one transaction`);
      const started = monoMs();
      await db.query(
        `INSERT INTO public.${TABLES.wal} (id, account, status, amount, note)
         SELECT g, g % 1000, 'new', (g % 100000) / 100.0, 'bench row ' || g || ' ' || repeat('x', 40) FROM generate_series(1, $1::bigint) g`,
        [ROWS],
      );
      const committed = monoMs();
      const cpu0 = bridge.sample()?.cpuS ?? 0;
      step('committed; streaming');
      const deadline = committed + WAIT_MS;
      let delivered = 0;
      while (delivered < ROWS && monoMs() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
        delivered = await bridge.deliveries('out').catch(() => delivered);
      }
      const done = monoMs();
      const sample = bridge.sample();
      const streamS = (done - committed) / 1000;
      const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
      process.stdout.write(
        [
          `| ${fmt(ROWS)}-row transaction, wal → stdout | figure |`,
          '|---|---|',
          `| delivered | ${fmt(delivered)} of ${fmt(ROWS)} |`,
          `| INSERT … generate_series, to COMMIT | ${((committed - started) / 1000).toFixed(1)} s |`,
          `| COMMIT → last delivery | ${streamS.toFixed(1)} s (${fmt(delivered / streamS)} ev/s) |`,
          `| peak RSS (VmHWM) | ${(sample?.hwmMb ?? Number.NaN).toFixed(0)} MB (streaming started at ${baselineMb.toFixed(0)} MB) |`,
          `| CPU | ${((((sample?.cpuS ?? 0) - cpu0) / Math.max(1, delivered)) * 10_000).toFixed(2)} s/10k events |`,
          `| load average at the end | ${os
            .loadavg()
            .map((l) => l.toFixed(1))
            .join(' ')} (${os.cpus().length} CPUs) |`,
          '',
        ].join('\n'),
      );
      if (delivered < ROWS) process.exitCode = 1;
    } finally {
      await bridge.stop();
    }
  } finally {
    await db.drop();
  }
}

await main();
