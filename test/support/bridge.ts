import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = path.join(ROOT, 'bin', 'pgbridge.js');

/** Writes a config object as JSON (or raw text) into a fresh temp file. */
/** Every folder writeConfig made in this test process: removed when it exits, so a run leaves none behind. */
const configDirs: string[] = [];
process.once('exit', () => {
  for (const dir of configDirs) rmSync(dir, { recursive: true, force: true });
});

export function writeConfig(config: object | string, ext = '.json'): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'pgbridge-test-'));
  configDirs.push(dir);
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

export interface LaunchOptions {
  /** Node flags before the CLI (`--cpu-prof` …). */
  readonly nodeArgs?: readonly string[];
  /** `ignore`: stdout goes to /dev/null; `stream`: the caller reads `stdout` itself (a bench of the stdout sink); by default its lines are kept. */
  readonly stdout?: 'lines' | 'ignore' | 'stream';
  /** Keep this many log lines at most, dropping the older half when full (a long bench run); all by default. */
  readonly maxLogLines?: number;
}

/** A running `pgbridge run`, with its stdout lines and stderr log lines collected. */
export class RunningBridge {
  /** Every bridge still running, so an interrupted run can stop them. */
  static readonly live = new Set<RunningBridge>();
  readonly stdoutLines: string[] = [];
  readonly logLines: string[] = [];
  readonly exited: Promise<number | null>;
  private readonly child: ChildProcess;

  constructor(configFile: string, env: NodeJS.ProcessEnv = {}, options: LaunchOptions = {}) {
    const devNull = options.stdout === 'ignore' ? openSync('/dev/null', 'w') : undefined;
    this.child = spawn(process.execPath, [...(options.nodeArgs ?? []), BIN, 'run', '-c', configFile], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['pipe', devNull ?? 'pipe', 'pipe'],
    });
    if (devNull !== undefined) closeSync(devNull);
    else if (options.stdout !== 'stream') collectLines(this.child.stdout!, this.stdoutLines);
    collectLines(this.child.stderr!, this.logLines, options.maxLogLines);
    RunningBridge.live.add(this);
    this.exited = new Promise((resolve) =>
      this.child.on('exit', (code) => {
        RunningBridge.live.delete(this);
        resolve(code);
      }),
    );
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Its stdout, for `stdout: 'stream'` (null otherwise once collected or ignored). */
  get stdout(): Readable | null {
    return this.child.stdout;
  }

  /** The exit code once it has exited, else null. */
  get exitCode(): number | null {
    return this.child.exitCode;
  }

  /** The events on its stdout (the stdout sink's lines), parsed; as many as have arrived. */
  stdoutEvents<T = Record<string, unknown>>(): T[] {
    return this.stdoutLines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as T);
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

  /** SIGTERM, then SIGKILL after `timeoutMs`; the exit code. */
  async stop(timeoutMs = 15_000): Promise<number | null> {
    if (this.child.exitCode !== null) return this.child.exitCode;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
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

function collectLines(stream: NodeJS.ReadableStream, into: string[], max = Infinity): void {
  let rest = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    const parts = (rest + chunk).split('\n');
    rest = parts.pop() ?? '';
    into.push(...parts);
    if (into.length > max) into.splice(0, into.length - Math.floor(max / 2));
  });
}

export interface WaitOptions {
  /** Between two checks; 50 ms unless given. */
  readonly intervalMs?: number;
  /** Gives up early (rejecting with its reason) when aborted. */
  readonly signal?: AbortSignal;
}

export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 15000,
  what = 'condition',
  { intervalMs = 50, signal }: WaitOptions = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    signal?.throwIfAborted();
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** `work`, whose failure carries the bridge's last log lines: what it was doing when the test gave up. */
export async function showingLogOnFailure<T>(bridge: RunningBridge, work: Promise<T>, lines = 60): Promise<T> {
  try {
    return await work;
  } catch (err) {
    const tail = bridge.logLines.slice(-lines).join('\n');
    const message = err instanceof Error ? err.message : String(err);
    throw new Error(`${message}\n--- the last ${lines} log lines of pgbridge (pid ${bridge.pid}, exit code ${bridge.exitCode}) ---\n${tail}`, {
      cause: err,
    });
  }
}

/** Fails instead of hanging when `promise` does not settle within `ms`. */
export async function within<T>(ms: number, promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} took over ${ms} ms`)), ms)));
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}
