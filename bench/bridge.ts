/**
 * One `pgbridge run` process under measurement: spawned from the built CLI
 * (dist/, as users run it), stdout to /dev/null, its RSS sampled from
 * /proc/PID/status and its CPU from /proc/PID/stat.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, closeSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const BIN = path.join(ROOT, 'bin', 'pgbridge.js');

const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

export function writeConfig(config: object): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'pgbridge-bench-'));
  const file = path.join(dir, 'pgbridge.json');
  writeFileSync(file, JSON.stringify(config, null, 2));
  return file;
}

/** A free TCP port on 127.0.0.1 (for the bridge's /metrics). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Runs a pgbridge command to completion; throws with its stderr on a non-zero exit. */
export function pgbridgeCli(args: readonly string[]): void {
  execFileSync(process.execPath, [BIN, ...args], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
}

export interface ProcSample {
  readonly rssMb: number;
  readonly hwmMb: number;
  readonly cpuS: number;
}

export function procSample(pid: number): ProcSample | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 'NaN');
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the ")" closing the command name: state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cpuS = (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
    return { rssMb: kb('VmRSS') / 1024, hwmMb: kb('VmHWM') / 1024, cpuS };
  } catch {
    return undefined;
  }
}

export interface BridgeOptions {
  /** Directory for a V8 CPU profile (node --cpu-prof), written when the process exits. */
  readonly profileDir?: string;
}

export class BridgeProcess {
  /** Every bridge still running, so an interrupted bench can stop them. */
  static readonly live = new Set<BridgeProcess>();
  readonly startedAt = performance.now();
  readonly logLines: string[] = [];
  readonly exited: Promise<number | null>;
  private readonly child: ChildProcess;
  private readonly sampler: NodeJS.Timeout;
  private last: ProcSample | undefined;
  /** Highest VmRSS seen by the 50 ms sampler (VmHWM is read too; this one can be reset per phase). */
  private rssPeak = 0;
  readonly rssTimeline: Array<{ t: number; rssMb: number }> = [];

  constructor(
    configFile: string,
    readonly metricsPort: number,
    options: BridgeOptions = {},
  ) {
    const devNull = openSync('/dev/null', 'w');
    const nodeArgs = options.profileDir ? ['--cpu-prof', '--cpu-prof-dir', options.profileDir] : [];
    this.child = spawn(process.execPath, [...nodeArgs, BIN, 'run', '-c', configFile], {
      cwd: ROOT,
      stdio: ['ignore', devNull, 'pipe'],
    });
    closeSync(devNull);
    let rest = '';
    this.child.stderr!.setEncoding('utf8');
    this.child.stderr!.on('data', (chunk: string) => {
      const parts = (rest + chunk).split('\n');
      rest = parts.pop() ?? '';
      for (const line of parts) {
        this.logLines.push(line);
        if (this.logLines.length > 2000) this.logLines.splice(0, 1000);
      }
    });
    BridgeProcess.live.add(this);
    this.exited = new Promise((resolve) =>
      this.child.on('exit', (code) => {
        BridgeProcess.live.delete(this);
        resolve(code);
      }),
    );
    this.sampler = setInterval(() => this.sample(), 50);
  }

  get pid(): number {
    return this.child.pid!;
  }

  sample(): ProcSample | undefined {
    const s = procSample(this.pid);
    if (s) {
      this.last = s;
      if (s.rssMb > this.rssPeak) this.rssPeak = s.rssMb;
      this.rssTimeline.push({ t: performance.now(), rssMb: s.rssMb });
      if (this.rssTimeline.length > 20_000) this.rssTimeline.splice(0, 10_000);
    }
    return s ?? this.last;
  }

  /** Peak RSS seen by the sampler since the last reset, in MB. */
  peakRssMb(): number {
    this.sample();
    return this.rssPeak;
  }

  resetPeak(): void {
    this.rssPeak = this.sample()?.rssMb ?? 0;
  }

  /** Waits until the bridge holds the delivery lock (its listener and readers are starting then). */
  async ready(timeoutMs = 20_000): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (!this.logLines.some((l) => l.includes('holding the delivery lock'))) {
      if (this.child.exitCode !== null) throw new Error(`pgbridge exited with ${this.child.exitCode}:\n${this.logLines.slice(-20).join('\n')}`);
      if (performance.now() > deadline) throw new Error(`pgbridge not ready after ${timeoutMs} ms:\n${this.logLines.slice(-20).join('\n')}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    // The listener connects right after the lock; give it a moment to LISTEN.
    await this.waitForMetricsEndpoint();
    await new Promise((r) => setTimeout(r, 300));
  }

  private async waitForMetricsEndpoint(): Promise<void> {
    for (let i = 0; i < 100; i++) {
      try {
        const res = await fetch(`http://127.0.0.1:${this.metricsPort}/livez`);
        if (res.ok) return;
      } catch {
        // not yet
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** pgbridge_deliveries_total{sink,outcome} from /metrics. */
  async deliveries(sink: string, outcome = 'delivered'): Promise<number> {
    const res = await fetch(`http://127.0.0.1:${this.metricsPort}/metrics`);
    const text = await res.text();
    const line = text.split('\n').find((l) => l.startsWith('pgbridge_deliveries_total{') && l.includes(`sink="${sink}"`) && l.includes(`outcome="${outcome}"`));
    return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
  }

  /** Log lines at warn (40) or above, for the report. */
  problems(): string[] {
    return this.logLines.filter((l) => /"level":(4|5|6)0/.test(l));
  }

  /** SIGTERM, then SIGKILL after `timeoutMs`; returns the exit code. */
  async stop(timeoutMs = 15_000): Promise<number | null> {
    clearInterval(this.sampler);
    if (this.child.exitCode !== null) return this.child.exitCode;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }
}
