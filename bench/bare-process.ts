/**
 * Runs a bare client (bench/bare/*.ts) the way a drain runs pgbridge: a fresh
 * Node process, timed from spawn to the last event at the receiver, its CPU
 * the whole process life. So both sides of the ratio pay for starting Node,
 * loading the client library and connecting, and neither for the other's.
 * The clients are bundled (esbuild, libraries left as imports) so that they
 * run on plain `node` as the built pgbridge does, without tsx's loader.
 */
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { BareJob, BareReport } from './bare/job.js';
import type { CeilingResult } from './ceilings.js';
import type { Receiver } from './receivers.js';
import { monoMs } from './stats.js';

export type BareClient = 'nats' | 'mqtt' | 'redis' | 'amqp' | 'kafka';

const WAIT_MS = 120_000;
const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
/** Inside the checkout, so the bundles' library imports resolve from its node_modules. */
const outdir = path.join(root, '.tmp', 'bench-bare');
let bundled: Promise<void> | undefined;

function bundle(): Promise<void> {
  mkdirSync(outdir, { recursive: true });
  bundled ??= build({
    entryPoints: ['nats', 'mqtt', 'redis', 'amqp', 'kafka'].map((name) => path.join(root, 'bench', 'bare', `${name}.ts`)),
    outdir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    packages: 'external',
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'error',
  }).then(() => undefined);
  return bundled;
}

export interface BareResult extends CeilingResult {
  /** First publish (library loaded, connected) → last event at the receiver: the in-process method. */
  readonly fromFirstPublishS: number;
  /** Spawn → first publish: Node, the library, the connection. */
  readonly startupS: number;
}

export async function runBareProcess(client: BareClient, job: BareJob, receiver: Receiver): Promise<BareResult> {
  await bundle();
  await receiver.reset();
  const spawnedAt = monoMs();
  const child = spawn(process.execPath, [path.join(outdir, `${client}.mjs`), JSON.stringify(job)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const failed = exited.then((code) => {
    if (code !== 0) throw new Error(`bare ${client} exited with ${code}: ${stderr.slice(0, 500)}`);
    return new Promise<never>(() => undefined);
  });
  const got = await Promise.race([receiver.wait(job.count, WAIT_MS), failed]);
  await Promise.race([exited, failed]);
  const report = JSON.parse(stdout.trim()) as BareReport;
  const end = got.count >= job.count ? got.lastAt : monoMs();
  const seconds = (end - spawnedAt) / 1000;
  return {
    events: job.count,
    received: got.count,
    seconds,
    rate: got.count / seconds,
    cpuS: report.cpuS,
    fromFirstPublishS: (end - report.firstPublishAt) / 1000,
    startupS: (report.firstPublishAt - spawnedAt) / 1000,
  };
}
