/** The results table, the targets, and their JSON / Markdown forms. */
import type { LatencySummary } from './stats.js';

export interface ResultRow {
  readonly key: string;
  /** ceiling | burst | drain | steady */
  readonly kind: string;
  readonly workload: string;
  readonly mode: string;
  readonly sink: string;
  readonly events: number;
  readonly received?: number;
  readonly rate: number;
  /** Which ceiling the ratio is against (a row key, or "offered" for steady rates). */
  readonly ceilingName?: string;
  readonly ceilingRate?: number;
  readonly latency?: LatencySummary;
  readonly peakRssMb?: number;
  readonly cpuPer10k?: number;
  readonly repeats?: number;
  readonly extra?: Record<string, unknown>;
  readonly notes?: readonly string[];
}

export const ratioOf = (row: ResultRow): number | undefined =>
  row.ceilingRate !== undefined && row.ceilingRate > 0 ? row.rate / row.ceilingRate : undefined;

/** A drain's rate from its first event on against its ceiling's: the same window when the ceiling reports one, else the ceiling's whole rate. */
export function ratioAfterFirstOf(row: ResultRow): number | undefined {
  const x = row.extra ?? {};
  const after = typeof x.rateAfterFirst === 'number' ? x.rateAfterFirst : undefined;
  const ceiling = typeof x.ceilingRateAfterFirst === 'number' ? x.ceilingRateAfterFirst : row.ceilingRate;
  return after !== undefined && ceiling !== undefined && ceiling > 0 ? after / ceiling : undefined;
}

export interface Target {
  readonly name: string;
  readonly measured: number | undefined;
  readonly unit: string;
  readonly op: '>=' | '<=';
  readonly threshold: number;
  readonly detail: string;
}

export const targetMet = (t: Target): boolean | undefined =>
  t.measured === undefined || Number.isNaN(t.measured) ? undefined : t.op === '>=' ? t.measured >= t.threshold : t.measured <= t.threshold;

const num = (v: number | undefined, digits = 0): string => (v === undefined || Number.isNaN(v) ? '—' : v.toFixed(digits));
const thousands = (v: number | undefined): string => (v === undefined || Number.isNaN(v) ? '—' : Math.round(v).toLocaleString('en-US'));

const HEADER = [
  '#',
  'workload',
  'mode',
  'sink / client',
  'events',
  'runs',
  'events/s',
  'ceiling',
  'ratio',
  'p50 ms',
  'p99 ms',
  'max ms',
  'peak RSS MB',
  'CPU s/10k ev',
];

function cells(row: ResultRow, index: number): string[] {
  const ratio = ratioOf(row);
  return [
    String(index + 1),
    row.workload,
    row.mode,
    row.sink,
    row.received !== undefined && row.received !== row.events ? `${thousands(row.received)}/${thousands(row.events)}` : thousands(row.events),
    String(row.repeats ?? 1),
    thousands(row.rate),
    row.ceilingName ? `${row.ceilingName} ${thousands(row.ceilingRate)}` : '—',
    ratio === undefined ? '—' : ratio.toFixed(2),
    num(row.latency?.p50, 1),
    num(row.latency?.p99, 1),
    num(row.latency?.max, 1),
    num(row.peakRssMb),
    num(row.cpuPer10k, 2),
  ];
}

function targetCells(t: Target): string[] {
  const met = targetMet(t);
  return [
    t.name,
    t.measured === undefined ? 'not measured' : `${num(t.measured, t.unit === 'x' ? 2 : 1)}${t.unit === 'x' ? '' : ` ${t.unit}`}`,
    `${t.op} ${t.threshold}${t.unit === 'x' ? '' : ` ${t.unit}`}`,
    met === undefined ? 'NOT MEASURED' : met ? 'met' : 'NOT MET',
    t.detail,
  ];
}

/** `right`: indexes of the columns aligned right (numbers). */
function textTable(header: string[], rows: string[][], right: ReadonlySet<number> = new Set()): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]): string =>
    r
      .map((c, i) => (right.has(i) ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

function markdownTable(header: string[], rows: string[][]): string {
  const esc = (c: string): string => c.replace(/\|/g, '\\|');
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`)].join('\n');
}

export interface Report {
  readonly meta: Record<string, unknown>;
  readonly rows: readonly ResultRow[];
  readonly targets: readonly Target[];
  readonly outage?: Record<string, unknown>;
  readonly notes: readonly string[];
}

const TARGET_HEADER = ['target', 'measured', 'wanted', 'result', 'how'];

function outageLines(outage: Record<string, unknown> | undefined): string[] {
  if (!outage) return [];
  const o = outage as Record<string, number> & { notes?: string[] };
  return [
    `Sink outage (outbox → webhook batched, ${o.outageS} s with writes going on at ${o.rate} ev/s, ${thousands(o.backlog)} events backlogged): ` +
      `RSS before ${num(o.rssBeforeMb)} MB, peak during ${num(o.rssPeakDuringMb)} MB, at its end ${num(o.rssEndOfOutageMb)} MB, ` +
      `after the backlog drained ${num(o.rssAfterMb)} MB; backlog delivered ${num(o.recoverS, 1)} s after the sink returned ` +
      `(${thousands(o.received)}/${thousands(o.events)} events, outbox left ${o.outboxLeft})${o.notes?.length ? `; ${o.notes.join('; ')}` : ''}.`,
  ];
}

/** One line per row with the figures the table has no column for. */
function detailLines(rows: readonly ResultRow[]): string[] {
  return rows.flatMap((r) => {
    const x = r.extra ?? {};
    const n = (k: string): number | undefined => (typeof x[k] === 'number' ? x[k] : undefined);
    const parts: string[] = [];
    if (n('insertS') !== undefined)
      parts.push(
        `inserts took ${n('insertS')!.toFixed(2)} s${n('tailS') !== undefined ? `, last event ${n('tailS')!.toFixed(2)} s after the last COMMIT` : ''}`,
      );
    if (n('firstEventS') !== undefined) {
      const after = n('rateAfterFirst');
      const ratioAfter = ratioAfterFirstOf(r);
      const ceilingAfter = n('ceilingRateAfterFirst');
      const ratio =
        ratioAfter === undefined
          ? ''
          : ` (${ratioAfter.toFixed(2)} of the ceiling${ceilingAfter === undefined ? '' : `'s ${thousands(ceilingAfter)} ev/s from its first event`})`;
      parts.push(`first event ${n('firstEventS')!.toFixed(2)} s after spawn, then ${thousands(after)} ev/s${ratio}`);
    }
    if (n('startupS') !== undefined) {
      parts.push(
        `first publish ${n('startupS')!.toFixed(2)} s after spawn (Node, the library, connecting), then ${thousands(n('rateFromFirstPublish'))} ev/s`,
      );
    }
    if (n('pgTransactions') !== undefined) parts.push(`${thousands(n('pgTransactions'))} Postgres transactions committed while it ran`);
    const warm = x.warmup as { p99?: number } | undefined;
    if (warm?.p99 !== undefined) parts.push(`warm-up p99 ${warm.p99.toFixed(1)} ms`);
    if (n('achievedInsertRate') !== undefined) parts.push(`inserts achieved ${thousands(n('achievedInsertRate'))} rows/s`);
    const beside = x.beside as Array<{ name: string; rate: number; ratio: number }> | undefined;
    if (beside?.length) parts.push(beside.map((b) => `${b.ratio.toFixed(2)} of ${b.name} (${thousands(b.rate)} ev/s)`).join(', '));
    const runs = x.runs as Array<{ rate: number; p99?: number }> | undefined;
    if (runs && runs.length > 1)
      parts.push(`runs: ${runs.map((run) => (r.kind === 'steady' ? `p99 ${num(run.p99, 1)}` : thousands(run.rate))).join(', ')}`);
    return parts.length ? [`${r.key}: ${parts.join('; ')}`] : [];
  });
}

export function renderText(report: Report): string {
  const rows = report.rows.map(cells);
  return [
    textTable(HEADER, rows, new Set([0, 4, 5, 6, 8, 9, 10, 11, 12, 13])),
    '',
    ...outageLines(report.outage),
    '',
    ...detailLines(report.rows),
    '',
    textTable(TARGET_HEADER, report.targets.map(targetCells)),
    ...(report.notes.length ? ['', ...report.notes.map((n) => `note: ${n}`)] : []),
  ].join('\n');
}

export function renderMarkdown(report: Report): string {
  const meta = report.meta;
  return [
    '# pgbridge benchmark results',
    '',
    `Date: ${meta.date}. Machine: ${meta.cpus} cores (${meta.cpuModel}), ${meta.memoryGb} GB memory, ${meta.os}; Node ${meta.node}, PostgreSQL ${meta.postgres}. ` +
      `Run: \`${meta.command}\` (${meta.scale}), ${meta.totalS} s in all.`,
    '',
    markdownTable(HEADER, report.rows.map(cells)),
    '',
    ...outageLines(report.outage),
    '',
    '## Details',
    '',
    ...detailLines(report.rows).map((l) => `- ${l}`),
    '',
    '## Targets',
    '',
    markdownTable(TARGET_HEADER, report.targets.map(targetCells)),
    ...(report.notes.length ? ['', '## Notes', '', ...report.notes.map((n) => `- ${n}`)] : []),
    '',
  ].join('\n');
}
