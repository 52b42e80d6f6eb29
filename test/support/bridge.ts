import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = path.join(ROOT, 'bin', 'pgbridge.js');

/** Writes a config object as JSON (or raw text) into a fresh temp file. */
export function writeConfig(config: object | string, ext = '.json'): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'pgbridge-test-'));
  const file = path.join(dir, `pgbridge${ext}`);
  writeFileSync(file, typeof config === 'string' ? config : JSON.stringify(config, null, 2));
  return file;
}

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the real CLI to completion. */
export function cli(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** A running `pgbridge run`, with its stdout lines and stderr log lines collected. */
export class RunningBridge {
  readonly stdoutLines: string[] = [];
  readonly logLines: string[] = [];
  readonly exited: Promise<number | null>;
  private readonly child: ChildProcess;

  constructor(configFile: string, env: NodeJS.ProcessEnv = {}) {
    this.child = spawn(process.execPath, [BIN, 'run', '-c', configFile], { cwd: ROOT, env: { ...process.env, ...env } });
    collectLines(this.child.stdout!, this.stdoutLines);
    collectLines(this.child.stderr!, this.logLines);
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => resolve(code)));
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Log lines parsed as JSON (non-JSON lines left out). */
  logs(): Array<Record<string, unknown>> {
    return this.logLines.flatMap((l) => {
      try {
        return [JSON.parse(l) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
  }

  async waitForLog(match: (entry: Record<string, unknown>) => boolean, timeoutMs = 15000): Promise<void> {
    await waitFor(() => this.logs().some(match), timeoutMs, 'log line');
  }

  /** Waits until this instance holds the delivery lock and its listener is up. */
  async ready(timeoutMs = 15000): Promise<void> {
    await this.waitForLog((e) => typeof e.msg === 'string' && e.msg.includes('holding the delivery lock'), timeoutMs);
    // In notify mode a row committed before LISTEN is lost: a loaded machine can take longer than the pause below.
    await this.waitForLog((e) => e.msg === 'listening for notifications', timeoutMs);
    await new Promise((r) => setTimeout(r, 300));
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<number | null> {
    this.child.kill(signal);
    return this.exited;
  }
}

/** `pgbridge install` (which must succeed), then `run`, waiting until it delivers. */
export async function installAndRun(configFile: string, env: NodeJS.ProcessEnv = {}): Promise<RunningBridge> {
  const installed = await cli(['install', '-c', configFile], env);
  if (installed.code !== 0) throw new Error(`install exited ${installed.code}: ${installed.stderr}`);
  const bridge = new RunningBridge(configFile, env);
  await bridge.ready();
  return bridge;
}

function collectLines(stream: NodeJS.ReadableStream, into: string[]): void {
  let rest = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    const parts = (rest + chunk).split('\n');
    rest = parts.pop() ?? '';
    into.push(...parts);
  });
}

export async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs = 15000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
