/**
 * One `pgbridge run` process under measurement: launched like the tests'
 * (test/support/bridge.ts), stdout to /dev/null, its RSS sampled from
 * /proc/PID/status and its CPU from /proc/PID/stat.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { BIN, ROOT, RunningBridge, writeConfig } from '../test/support/bridge.js';
import { freePort } from '../test/support/tcp.js';
import { monoMs } from './stats.js';

export { BIN, freePort, ROOT, writeConfig };

const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

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
  /** Read its stdout and count the lines as they arrive (a stdout sink's events); else stdout goes to /dev/null. */
  readonly countStdoutLines?: boolean;
}

/** Lines a bridge wrote to stdout so far, and when the first and the latest arrived (monotonic ms). */
export interface StdoutArrivals {
  count: number;
  firstAt: number;
  /** Lines in the chunk read at firstAt (one read can bring hundreds). */
  atFirst: number;
  lastAt: number;
}

export class BridgeProcess {
  /** Every bridge still running, so an interrupted bench can stop them. */
  static readonly live = new Set<BridgeProcess>();
  readonly startedAt = performance.now();
  readonly exited: Promise<number | null>;
  private readonly bridge: RunningBridge;
  private readonly sampler: NodeJS.Timeout;
  private last: ProcSample | undefined;
  /** Highest VmRSS seen by the 50 ms sampler (VmHWM is read too; this one can be reset per phase). */
  private rssPeak = 0;
  readonly rssTimeline: Array<{ t: number; rssMb: number }> = [];
  /** Its stdout lines so far (countStdoutLines), else undefined. */
  stdoutArrivals: StdoutArrivals | undefined;

  constructor(
    configFile: string,
    readonly metricsPort: number,
    options: BridgeOptions = {},
  ) {
    this.bridge = new RunningBridge(
      configFile,
      // A profile of dist/ itself: the bundle's frames would not name the modules profile.ts sorts them by.
      options.profileDir ? { PGBRIDGE_UNBUNDLED: '1' } : {},
      {
        nodeArgs: options.profileDir ? ['--cpu-prof', '--cpu-prof-dir', options.profileDir] : [],
        stdout: options.countStdoutLines ? 'stream' : 'ignore',
        maxLogLines: 2000,
      },
    );
    if (options.countStdoutLines) this.countLines(this.bridge.stdout!);
    BridgeProcess.live.add(this);
    this.exited = this.bridge.exited.then((code) => {
      BridgeProcess.live.delete(this);
      return code;
    });
    this.sampler = setInterval(() => this.sample(), 50);
  }

  get pid(): number {
    return this.bridge.pid;
  }

  /** One event per line: newlines counted as the bytes come, each chunk timed when it is read. */
  private countLines(stdout: Readable): void {
    const arrivals: StdoutArrivals = { count: 0, firstAt: Number.NaN, atFirst: 0, lastAt: Number.NaN };
    this.stdoutArrivals = arrivals;
    stdout.on('data', (chunk: Buffer) => {
      let lines = 0;
      for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines++;
      if (lines === 0) return;
      const now = monoMs();
      if (arrivals.count === 0) {
        arrivals.firstAt = now;
        arrivals.atFirst = lines;
      }
      arrivals.count += lines;
      arrivals.lastAt = now;
    });
  }

  get logLines(): readonly string[] {
    return this.bridge.logLines;
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

  /** Waits until the bridge holds the delivery lock (its listener and readers are starting then), and has logged `line` if given. */
  async ready(line?: string, timeoutMs = 20_000): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    const logged = (text: string): boolean => this.logLines.some((l) => l.includes(text));
    while (!logged('holding the delivery lock') || (line !== undefined && !logged(line))) {
      if (this.bridge.exitCode !== null) throw new Error(`pgbridge exited with ${this.bridge.exitCode}:\n${this.logLines.slice(-20).join('\n')}`);
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
    const line = text
      .split('\n')
      .find((l) => l.startsWith('pgbridge_deliveries_total{') && l.includes(`sink="${sink}"`) && l.includes(`outcome="${outcome}"`));
    return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
  }

  /** Log lines at warn (40) or above, for the report. */
  problems(): string[] {
    return this.logLines.filter((l) => /"level":(4|5|6)0/.test(l));
  }

  /** SIGTERM, then SIGKILL after `timeoutMs`; returns the exit code. */
  async stop(timeoutMs = 15_000): Promise<number | null> {
    clearInterval(this.sampler);
    return this.bridge.stop(timeoutMs);
  }
}
