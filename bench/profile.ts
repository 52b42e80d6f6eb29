/**
 * Summarizes V8 CPU profiles (node --cpu-prof, as `npm run bench -- --profile DIR`
 * writes them, one sub-folder per scenario): top functions by self time,
 * self time by module, and inclusive time of pgbridge's own functions.
 *
 *   node --import tsx bench/profile.ts DIR [--top N]
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** node_modules/<pkg>, dist/<file>, node:<internal>, or (program)/(garbage collector)/(idle). */
function moduleOf(frame: CallFrame): string {
  const url = frame.url;
  if (!url) return frame.functionName.startsWith('(') ? frame.functionName : '(native)';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1];
  const dist = /\/dist\/(.+)$/.exec(url);
  if (dist) return `pgbridge ${dist[1]}`;
  if (url.startsWith('node:')) return url;
  return path.basename(url);
}

function frameName(frame: CallFrame): string {
  const where = frame.url ? `${moduleOf(frame)}:${frame.lineNumber + 1}` : '';
  return `${frame.functionName || '(anonymous)'}${where ? ` ${where}` : ''}`;
}

/**
 * What a sample was doing, judged by the nearest frame (leaf first) that
 * belongs to a known module: native socket writes count for whoever wrote.
 */
const CATEGORIES: Array<[string, RegExp]> = [
  ['postgres: pg client, outbox reader/progress, listener', /node_modules\/pg(-pool|-protocol)?\/|\/dist\/source\/|\/dist\/delivery\/dead-letters/],
  ['sink I/O: undici / amqplib / kafkajs + sink code', /node_modules\/(undici|amqplib|kafkajs|@acuminous|buffer-more-ints)\/|\/dist\/sinks\//],
  ['metrics: prom-client', /node_modules\/(prom-client|tdigest|bintrees)\//],
  ['logging: pino', /node_modules\/(pino|sonic-boom|thread-stream|pino-std-serializers)\//],
  ['delivery core: runner, router, formats', /\/dist\/(delivery|formats|router|event|app)/],
  ['startup: module loading, config', /node:internal\/modules|node_modules\/(yaml|convict)\/|\/dist\/(cli|config|commands)\//],
];

function categoryOf(leaf: number, parent: ReadonlyMap<number, number>, byId: ReadonlyMap<number, ProfileNode>): string {
  const name = byId.get(leaf)!.callFrame.functionName;
  if (name === '(garbage collector)') return 'garbage collector';
  if (name === '(program)') return '(program)';
  for (let cur: number | undefined = leaf; cur !== undefined; cur = parent.get(cur)) {
    const url = byId.get(cur)!.callFrame.url;
    if (!url) continue;
    for (const [category, pattern] of CATEGORIES) if (pattern.test(url)) return category;
  }
  return 'other';
}

export interface ProfileSummary {
  readonly file: string;
  readonly totalMs: number;
  readonly idleMs: number;
  readonly byCategory: Array<{ name: string; ms: number; pct: number }>;
  readonly topSelf: Array<{ name: string; ms: number; pct: number }>;
  readonly byModule: Array<{ name: string; ms: number; pct: number }>;
  readonly pgbridgeInclusive: Array<{ name: string; ms: number; pct: number }>;
}

export function summarizeProfile(file: string, top = 20): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i];
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
  }
  const totalMs = [...self.values()].reduce((a, b) => a + b, 0);
  const idleMs = profile.nodes.filter((n) => n.callFrame.functionName === '(idle)').reduce((a, n) => a + (self.get(n.id) ?? 0), 0);
  const busyMs = totalMs - idleMs;

  const add = (map: Map<string, number>, key: string, ms: number): void => {
    map.set(key, (map.get(key) ?? 0) + ms);
  };
  const selfByName = new Map<string, number>();
  const selfByModule = new Map<string, number>();
  for (const n of profile.nodes) {
    const ms = self.get(n.id) ?? 0;
    if (ms === 0 || n.callFrame.functionName === '(idle)') continue;
    add(selfByName, frameName(n.callFrame), ms);
    add(selfByModule, moduleOf(n.callFrame), ms);
  }

  const byCategory = new Map<string, number>();
  // Inclusive time of pgbridge's functions: each sample counted once per distinct function on its stack.
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const inclusive = new Map<string, number>();
  for (const [id, ms] of self) {
    if (byId.get(id)!.callFrame.functionName !== '(idle)') add(byCategory, categoryOf(id, parent, byId), ms);
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const frame = byId.get(cur)!.callFrame;
      if (!frame.url.includes('/dist/')) continue;
      const name = frameName(frame);
      if (seen.has(name)) continue;
      seen.add(name);
      add(inclusive, name, ms);
    }
  }

  const rank = (map: Map<string, number>, n: number): Array<{ name: string; ms: number; pct: number }> =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, ms]) => ({ name, ms, pct: (100 * ms) / Math.max(1, busyMs) }));
  return {
    file,
    totalMs,
    idleMs,
    byCategory: rank(byCategory, 10),
    topSelf: rank(selfByName, top),
    byModule: rank(selfByModule, 12),
    pgbridgeInclusive: rank(inclusive, top),
  };
}

export function renderProfile(s: ProfileSummary): string {
  const list = (title: string, items: ProfileSummary['topSelf']): string[] => [
    title,
    ...items.map((i) => `  ${i.ms.toFixed(0).padStart(7)} ms ${i.pct.toFixed(1).padStart(5)}%  ${i.name}`),
  ];
  return [
    `${s.file}: ${(s.totalMs / 1000).toFixed(2)} s profiled, ${((s.totalMs - s.idleMs) / 1000).toFixed(2)} s busy (% of busy)`,
    ...list('by activity (nearest known frame):', s.byCategory),
    ...list('self time, top functions:', s.topSelf),
    ...list('self time by module:', s.byModule),
    ...list('inclusive time, pgbridge functions:', s.pgbridgeInclusive),
  ].join('\n');
}

function profilesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) return profilesUnder(p);
    return name.endsWith('.cpuprofile') ? [p] : [];
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '20' } } });
  for (const target of positionals) {
    const files = statSync(target).isDirectory() ? profilesUnder(target) : [target];
    for (const file of files.sort()) console.log(`${renderProfile(summarizeProfile(file, Number(values.top)))}\n`);
  }
}
