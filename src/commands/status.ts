import type { CommandArgs } from '../cli.js';
import type { BridgeConfig } from '../config/types.js';
import { databaseFacts } from '../console/database-facts.js';
import { databaseReport, failingSinks, type StatusReport } from '../console/status-report.js';
import { errorMessage } from '../errors.js';
import { connectClient } from '../postgres.js';
import type { Scrubber } from '../secrets.js';
import { listBackfills, type BackfillRow } from '../backfill/progress-store.js';

const ASK_TIMEOUT_MS = 3000;

/**
 * Each sink's state, backlog, oldest pending age and counts, and each captured
 * table's triggers: from the running bridge's HTTP endpoint when it answers,
 * else from Postgres alone. Exit 1 when a sink is failing (or nothing delivers).
 */
export async function statusCommand(config: BridgeConfig, scrubber: Scrubber, args: CommandArgs): Promise<number> {
  const asked = await askBridge(config);
  const report = asked.report ?? (await fromDatabase(config));
  const backfills = await unfinishedBackfills(config);
  if (args.json) {
    const { sinks, ...rest } = report;
    const shown = { ...rest, sinks: sinks.map(({ history: _history, ...sink }) => sink), backfills };
    process.stdout.write(`${JSON.stringify(scrubber.scrubStrings(shown), null, 2)}\n`);
  } else {
    process.stdout.write(scrubber.scrub(render(report, asked.why) + renderBackfills(backfills)));
  }
  return failingSinks(report).length > 0 ? 1 : 0;
}

/** The bridge's own report, or why it could not be had. */
async function askBridge(config: BridgeConfig): Promise<{ report?: StatusReport; why: string }> {
  if (config.http.port === 0) return { why: 'http.port is 0' };
  const host = ['0.0.0.0', '::', ''].includes(config.http.host) ? '127.0.0.1' : config.http.host;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${config.http.port}/api/status`;
  try {
    const response = await fetch(url, {
      headers: config.http.token ? { authorization: `Bearer ${config.http.token}` } : {},
      signal: AbortSignal.timeout(ASK_TIMEOUT_MS),
    });
    if (!response.ok) return { why: `${url} answered ${response.status}` };
    const report = (await response.json()) as StatusReport;
    // Another program on that port would answer something else.
    if (report.source !== 'bridge' || report.instance !== config.instance) return { why: `${url} is not this bridge` };
    return { report, why: url };
  } catch (err) {
    return { why: `${url}: ${errorMessage(err)}` };
  }
}

async function fromDatabase(config: BridgeConfig): Promise<StatusReport> {
  const db = await connectClient(config, 'status');
  try {
    return databaseReport(config, await databaseFacts(db, config));
  } finally {
    await db.end().catch(() => {});
  }
}

function render(report: StatusReport, why: string): string {
  const from = report.source === 'bridge' ? `the running bridge (${printable(why)})` : `the database (bridge not reachable: ${printable(why)})`;
  const lines = [
    `instance ${report.instance}, ${report.delivery} mode, read from ${from}`,
    `role: ${report.role}   postgres: ${printable(report.postgres)}   outbox backlog: ${show(report.outbox_backlog)}` +
      (report.replication_lag_bytes === null ? '' : `   replication lag: ${report.replication_lag_bytes} bytes`),
    '',
    ...columns([
      ['SINK', 'TYPE', 'STATE', 'BACKLOG', 'OLDEST PENDING', 'DELIVERED', 'RETRIES', 'DEAD LETTERS'],
      ...report.sinks.map((s) => [
        s.name,
        s.type,
        s.state,
        show(s.backlog),
        age(s.oldest_pending_seconds),
        show(s.delivered),
        show(s.retries),
        show(s.dead_letters),
      ]),
    ]),
    ...report.sinks
      .filter((s) => s.last_error && (s.state === 'retrying' || s.state === 'down'))
      .map((s) => `  ${s.name}: ${printable(s.last_error ?? '')}`),
    '',
    ...columns([
      ['TABLE', 'MODE', 'OPS', 'MISSING'],
      ...report.tables.map((t) => [t.table, t.mode, t.ops.join(','), t.missing.length === 0 ? '-' : `${t.missing.join(',')} (run pgbridge install)`]),
    ]),
  ];
  const failing = failingSinks(report);
  if (failing.length > 0) lines.push('', `failing: ${failing.map((s) => `${s.name} (${s.state})`).join(', ')}`);
  return `${lines.join('\n')}\n`;
}

/** Running and interrupted backfills of this instance (`pgbridge backfill --status` lists finished ones too). */
async function unfinishedBackfills(config: BridgeConfig): Promise<BackfillRow[]> {
  try {
    const db = await connectClient(config, 'status');
    try {
      const { rows } = await db.query<{ ok: boolean }>("SELECT to_regclass('pgbridge.backfills') IS NOT NULL AS ok");
      return rows[0].ok ? (await listBackfills(db, config.instance)).filter((b) => b.state !== 'finished') : [];
    } finally {
      await db.end().catch(() => {});
    }
  } catch {
    return [];
  }
}

function renderBackfills(backfills: readonly BackfillRow[]): string {
  if (backfills.length === 0) return '';
  const rows = backfills.map((b) => [b.table, b.state, `${b.rowsDone}${b.rowsTotal === null ? '' : ` of ~${b.rowsTotal}`}`, b.updatedAt]);
  return `\n${columns([['BACKFILL', 'STATE', 'ROWS', 'LAST CHUNK'], ...rows]).join('\n')}\n`;
}

function columns(table: string[][]): string[] {
  const rows = table.map((r) => r.map(printable));
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) =>
    r
      .map((cell, i) => cell.padEnd(widths[i]))
      .join('  ')
      .trimEnd(),
  );
}

/**
 * Control characters as visible \u escapes: a far end's error body (and a
 * quoted table name) may hold escape sequences that would retitle, clear or
 * rewrite the operator's terminal, or a line break that makes up a table row.
 */
const printable = (text: string): string =>
  text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

const show = (n: number | null): string => (n === null ? '-' : String(n));

function age(seconds: number | null): string {
  if (seconds === null) return '-';
  if (seconds < 120) return `${seconds.toFixed(1)} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}
