import type { BridgeStatus } from '../app.js';
import type { BridgeConfig } from '../config/types.js';
import type { RunnerStatus } from '../delivery/sink-runner.js';
import type { DatabaseFacts, TableCapture } from './database-facts.js';
import type { HistoryPoint } from './history.js';
import { countersOf, type SinkCounters } from './metric-facts.js';

/**
 * delivering / retrying (the last attempt failed) / down (not connected) come
 * from the running bridge; standby: another instance delivers; stopped: no
 * instance holds the delivery lock, or the running one lost Postgres; unknown:
 * one holds it, but it could not be asked.
 */
export type SinkState = 'delivering' | 'retrying' | 'down' | 'standby' | 'stopped' | 'unknown';

export interface SinkReport {
  readonly name: string;
  readonly type: string;
  readonly state: SinkState;
  readonly backlog: number | null;
  readonly oldest_pending_seconds: number | null;
  /** Since this bridge process started (null when read from the database). */
  readonly delivered: number | null;
  readonly retries: number | null;
  readonly dead_lettered: number | null;
  /** Dead letters waiting in pgbridge.dead_letters. */
  readonly dead_letters: number | null;
  readonly failing_since: string | null;
  /** Only with http.token: a far end's error may quote the event it refused. */
  readonly last_error?: string | null;
  readonly history?: readonly HistoryPoint[];
}

export interface StatusReport {
  /** bridge: asked the running process; database: read from Postgres alone. */
  readonly source: 'bridge' | 'database';
  readonly instance: string;
  readonly delivery: string;
  readonly role: 'delivering' | 'standby' | 'disconnected' | 'stopped' | 'unknown';
  /** ok, or why Postgres could not be read. */
  readonly postgres: string;
  readonly outbox_backlog: number | null;
  readonly replication_lag_bytes: number | null;
  readonly sinks: readonly SinkReport[];
  readonly tables: readonly TableCapture[];
  /** Whether dead letters can be listed and acted on (http.token is set). */
  readonly actions: boolean;
  readonly generated_at: string;
}

const FAILING: ReadonlySet<SinkState> = new Set(['retrying', 'down', 'stopped']);

/** A sink is failing when it cannot deliver now, or when no instance delivers at all. */
export function failingSinks(report: StatusReport): SinkReport[] {
  return report.sinks.filter((s) => FAILING.has(s.state));
}

export interface LiveFacts {
  readonly bridge: BridgeStatus;
  /** undefined when Postgres could not be read; `postgresError` then says why. */
  readonly database: DatabaseFacts | undefined;
  readonly postgresError?: string;
  readonly counters: ReadonlyMap<string, SinkCounters>;
  readonly history: (sink: string) => readonly HistoryPoint[];
  readonly replicationLagBytes?: number;
}

/**
 * Events waiting for a sink that only memory holds: in notify and wal mode
 * they are not (yet) in the outbox table, so its backlog and age miss them.
 * Events read from the table (outbox mode, a spill read back) are counted there.
 */
export function heldInMemory(config: BridgeConfig, runner: RunnerStatus | undefined): { events: number; oldestSeconds: number | null } {
  if (config.delivery === 'outbox' || runner === undefined) return { events: 0, oldestSeconds: null };
  return { events: runner.onlyInMemory, oldestSeconds: runner.oldestHeld === null ? null : Math.max(0, (Date.now() - runner.oldestHeld) / 1000) };
}

/** The older of the table's oldest pending event and memory's. */
export function oldestPending(inTable: number | null, inMemory: number | null): number | null {
  if (inTable === null) return inMemory;
  return inMemory === null ? inTable : Math.max(inTable, inMemory);
}

/** What the running bridge reports about itself (GET /api/status). */
export function liveReport(config: BridgeConfig, facts: LiveFacts): StatusReport {
  const { bridge, database } = facts;
  const details = config.http.token !== '';
  const sinks = config.sinks.map((sink): SinkReport => {
    const runner = bridge.sinks.get(sink.name);
    const counters = countersOf(facts.counters, sink.name);
    const backlog = database?.sinks.get(sink.name);
    const held = heldInMemory(config, runner);
    return {
      name: sink.name,
      type: sink.type,
      state: runner?.state ?? (bridge.role === 'disconnected' ? 'stopped' : 'standby'),
      backlog: backlog ? backlog.backlog + held.events : null,
      oldest_pending_seconds: oldestPending(backlog?.oldestPendingSeconds ?? null, held.oldestSeconds),
      delivered: counters.delivered,
      retries: counters.retries,
      dead_lettered: counters.deadLettered,
      dead_letters: database ? (database.deadLetters.get(sink.name) ?? 0) : null,
      failing_since: runner?.failingSince ? new Date(runner.failingSince).toISOString() : null,
      ...(details ? { last_error: runner?.lastError ?? null } : {}),
      history: facts.history(sink.name),
    };
  });
  return {
    source: 'bridge',
    instance: config.instance,
    delivery: config.delivery,
    role: bridge.role,
    postgres: database ? 'ok' : `unreachable: ${facts.postgresError ?? 'unknown error'}`,
    outbox_backlog: database?.outboxBacklog ?? null,
    // The gauge exists (at 0) in every mode; only wal mode has a slot.
    replication_lag_bytes: config.delivery === 'wal' ? (facts.replicationLagBytes ?? database?.replicationLagBytes ?? null) : null,
    sinks,
    tables: database?.tables ?? [],
    actions: details,
    generated_at: new Date().toISOString(),
  };
}

/** What Postgres alone tells, when the bridge cannot be asked. */
export function databaseReport(config: BridgeConfig, database: DatabaseFacts): StatusReport {
  const state: SinkState = database.lockHeld ? 'unknown' : 'stopped';
  return {
    source: 'database',
    instance: config.instance,
    delivery: config.delivery,
    role: database.lockHeld ? 'unknown' : 'stopped',
    postgres: 'ok',
    outbox_backlog: database.outboxBacklog,
    replication_lag_bytes: database.replicationLagBytes,
    sinks: config.sinks.map((sink) => {
      const backlog = database.sinks.get(sink.name);
      return {
        name: sink.name,
        type: sink.type,
        state,
        backlog: backlog?.backlog ?? null,
        oldest_pending_seconds: backlog?.oldestPendingSeconds ?? null,
        delivered: null,
        retries: null,
        dead_lettered: null,
        dead_letters: database.installed ? (database.deadLetters.get(sink.name) ?? 0) : null,
        failing_since: null,
      };
    }),
    tables: database.tables,
    actions: false,
    generated_at: new Date().toISOString(),
  };
}
