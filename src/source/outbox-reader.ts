import type { Logger } from 'pino';
import type pg from 'pg';
import { backoffDelay, sleep } from '../delivery/backoff.js';
import type { Inlet } from '../delivery/inlet.js';
import { errorMessage } from '../errors.js';
import type { Metrics } from '../metrics.js';
import type { HoldingRoutes } from '../router.js';
import { OutboxEnvelope } from './outbox-envelope.js';
import type { OutboxCheckpoint, RowHolder } from './outbox-progress.js';
import { PreparedSql } from './prepared-sql.js';
import { Column, PAGE_TOTAL, pageQuery, routedSinks, rowToEvent, type OutboxRecord, type PageRecord } from './outbox-rows.js';
import { withPooledClient } from '../postgres.js';
import { literal } from '../schema/quote.js';
import { LAST_ID_SQL, SettledWater, SNAPSHOT_SQL } from './settled-water.js';
import { StrandedRowProbe } from './stranded-probe.js';

export interface ReaderOptions {
  readonly table: string;
  readonly batchSize: number;
  readonly pollIntervalMs: number;
  /** Notify mode: leave the rows a trigger kept for being too large for NOTIFY to the notify source (see NOT_KEPT). */
  readonly skipKept?: boolean;
}

const RETRY = { initial_ms: 200, max_ms: 5000, max_attempts: 0 };

interface ReaderStatements {
  readonly lastId: PreparedSql;
  readonly snapshot: PreparedSql;
  readonly page: PreparedSql;
}

/** One set per outbox table (and skipKept), shared by its readers, so a connection prepares each once. */
const statementsByTable = new Map<string, ReaderStatements>();
function readerStatements(table: string, skipKept: boolean): ReaderStatements {
  const key = `${table}\0${skipKept}`;
  let statements = statementsByTable.get(key);
  if (!statements) {
    statements = {
      lastId: new PreparedSql(LAST_ID_SQL),
      snapshot: new PreparedSql(SNAPSHOT_SQL),
      page: new PreparedSql(pageQuery(table, skipKept), ['bigint', 'bigint[]', 'text', 'int']),
    };
    statementsByTable.set(key, statements);
  }
  return statements;
}

/**
 * Reads one sink's pending events from the outbox, oldest first, in pages no
 * larger than the sink's free room, so memory stays bounded however long the
 * sink is down: the backlog stays in Postgres. Rows are never skipped: it only
 * moves its floor past ids whose transactions have all finished (SettledWater)
 * and that it has read; above the floor it reads again, leaving out what it holds.
 */
export class OutboxReader implements RowHolder {
  private floor = 0n;
  /** Row ids (as the query returns them) with their value, compared to the floor on every page. */
  private readonly held = new Map<string, bigint>();
  /** The highest value ever held: while the floor is at or above it, no held row is above the floor. */
  private highestHeld = 0n;
  /** Rows above the floor routed to other sinks only: read once, left out of later pages. */
  private readonly skipped = new Map<string, bigint>();
  /** Rows the routes hold for a restart (HeldNewTables): left out of the stranded probe's finds too. */
  private readonly heldForRestart = new Set<string>();
  /** Room the inlet must have before the next page: one slot at a time would mean a page per settled event. */
  private readonly lowWater: number;
  private readonly settled: SettledWater;
  private readonly probe: StrandedRowProbe;
  private readonly query: string;
  private readonly statements: ReaderStatements;
  /**
   * Row changes and channel messages pushed since the events-captured counter was last
   * brought up to date; each counted by the reader of the first sink it is routed to only.
   */
  private lastFailure: string | undefined;
  private readonly captured = { rows: 0, channel: 0 };
  private dirty = true;
  private wake: (() => void) | undefined;
  private stopped = false;
  private readonly halt = new AbortController();
  private loop: Promise<void> | undefined;

  constructor(
    private readonly pool: pg.Pool,
    private readonly inlet: Inlet,
    private readonly routes: HoldingRoutes,
    private readonly checkpoint: OutboxCheckpoint,
    private readonly options: ReaderOptions,
    private readonly logger: Logger,
    private readonly metrics: Metrics,
    settled = new SettledWater(),
  ) {
    this.settled = settled;
    this.probe = new StrandedRowProbe(pool, options.table, inlet.name, routes, options.skipKept);
    this.query = pageQuery(options.table, options.skipKept);
    this.statements = readerStatements(options.table, options.skipKept ?? false);
    this.lowWater = Math.max(1, Math.min(Math.ceil(options.batchSize / 2), Math.floor(inlet.capacity / 2)));
  }

  /** Rows whose outcome is committed: they are gone from the table, or this sink has them. */
  release(rowIds: readonly string[]): void {
    for (const id of rowIds) this.held.delete(id);
  }

  start(): void {
    this.loop = this.run();
  }

  /** Something may have been written (a wake-up NOTIFY, a reconnection). */
  poke(): void {
    this.dirty = true;
    this.wake?.();
  }

  /**
   * Stops reading. A loop waiting for room in the inlet ends once delivery
   * stops too (which wakes it): stop both before awaiting this.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    this.halt.abort();
    this.wake?.();
    await this.loop;
  }

  /** Why the last read failed, until one succeeds (/readyz). */
  get failing(): string | undefined {
    return this.lastFailure;
  }

  private async run(): Promise<void> {
    for (let failures = 0; !this.stopped;) {
      await this.inlet.waitForRoom(this.lowWater);
      if (this.stopped) return;
      if (!this.dirty) await this.idle();
      if (this.stopped) return;
      this.dirty = false;
      try {
        if (this.probe.due()) await this.rescueStranded();
        await this.readPage();
        failures = 0;
        this.lastFailure = undefined;
      } catch (err) {
        failures++;
        this.lastFailure = errorMessage(err);
        this.dirty = true;
        const delay = backoffDelay(failures, RETRY);
        this.logger.warn({ sink: this.inlet.name, err: errorMessage(err), retry_in_ms: delay }, 'reading the outbox failed, retrying');
        await sleep(delay, this.halt.signal);
      }
    }
  }

  private idle(): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, this.options.pollIntervalMs);
      this.wake = done;
    });
  }

  private async readPage(): Promise<void> {
    const limit = Math.max(1, Math.min(this.options.batchSize, this.inlet.room));
    const heldAbove: string[] = [];
    // A page's rows are above the floor until it passes them, which on a backlog is by the next page: no scan of thousands held.
    if (this.highestHeld > this.floor) for (const [id, value] of this.held) if (value > this.floor) heldAbove.push(id);
    for (const [id, value] of this.skipped) if (value > this.floor) heldAbove.push(id);
    const { water, rows } = this.settled.readsBySql ? await this.readTogether(heldAbove, limit) : await this.readApart(heldAbove, limit);
    for (const row of rows) this.take(row);
    this.countCaptured();
    // Full, or cut short by its byte budget: more may be waiting right after it.
    const full = rows.length >= limit || (rows.length > 0 && rows[0][PAGE_TOTAL]! > rows.length);
    const last = rows.length > 0 ? BigInt(rows[rows.length - 1][Column.id]) : this.floor;
    const reach = full ? (last < water ? last : water) : water;
    if (reach > this.floor) {
      this.floor = reach;
      for (const [id, value] of this.skipped) if (value <= reach) this.skipped.delete(id);
    }
    if (full) this.dirty = true;
  }

  /**
   * The settled water, then the page, in one round trip: the three statements
   * in one simple query run one after the other, each with its own snapshot,
   * so the water is still measured right before the page's query and never
   * during an earlier one (the order issue 11's reasoning needs). Three round
   * trips per page were most of a 1-row transaction's reading; all three are
   * prepared statements (see PreparedSql).
   */
  private async readTogether(heldAbove: readonly string[], limit: number): Promise<{ water: bigint; rows: PageRecord[] }> {
    const { lastId, snapshot, page } = this.statements;
    const held = `'{${heldAbove.join(',')}}'::bigint[]`;
    const results = await withPooledClient(this.pool, async (db) => {
      await PreparedSql.prepareOn(db, [lastId, snapshot, page]);
      const text = [
        lastId.execute(db),
        snapshot.execute(db),
        page.execute(db, `${this.floor}::bigint`, held, literal(this.inlet.name), String(limit)),
      ].join(';');
      return (await db.query({ text, rowMode: 'array' })) as unknown as [
        pg.QueryResult<[last: string]>,
        pg.QueryResult<[xmin: string, nextXid: string, unknown: boolean]>,
        pg.QueryResult<PageRecord>,
      ];
    });
    const [xmin, nextXid, unknown] = results[1].rows[0];
    const water = this.settled.record(BigInt(results[0].rows[0][0]), { xmin, next_xid: nextXid, unknown });
    return { water, rows: results[2].rows };
  }

  /** The same with a sequence read of the SettledWater's own (a test's): the water in its round trips, then the page. */
  private async readApart(heldAbove: readonly string[], limit: number): Promise<{ water: bigint; rows: PageRecord[] }> {
    const water = await this.settled.advance(this.pool);
    const values = [this.floor.toString(), heldAbove, this.inlet.name, limit];
    const { rows } = await this.pool.query<PageRecord>({ text: this.query, values, rowMode: 'array' });
    return { water, rows };
  }

  /** One inc() of the labelled counter per page, not one per row. */
  private countCaptured(): void {
    const { rows, channel } = this.captured;
    if (rows > 0) this.metrics.eventsCaptured.inc({ source: 'outbox' }, rows);
    if (channel > 0) this.metrics.eventsCaptured.inc({ source: 'channel' }, channel);
    this.captured.rows = 0;
    this.captured.channel = 0;
  }

  /** Hands a row read from the outbox to the inlet, or leaves it to the sinks it is routed to; false when left. */
  private take(row: OutboxRecord): boolean {
    const sink = this.inlet.name;
    const event = rowToEvent(row);
    const routed = routedSinks(row, event, this.routes);
    const rowId = row[Column.id];
    const value = BigInt(rowId);
    // Held for a restart with the config that has its table: left in the table for that run's readers.
    if (routed === null) {
      this.skipped.set(rowId, value);
      this.heldForRestart.add(rowId);
      return false;
    }
    if (value > this.highestHeld) this.highestHeld = value;
    if (routed.length === 0) {
      this.held.set(rowId, value);
      this.checkpoint.discard(rowId, this);
      return true;
    }
    if (!routed.includes(sink)) {
      this.skipped.set(rowId, value);
      return false;
    }
    this.held.set(rowId, value);
    // A row with an event id of its own was captured before: a dead letter retried, a spill, what a stop kept.
    if (routed[0] === sink && row[Column.eventId] === null) this.captured[event.kind === 'channel' ? 'channel' : 'rows']++;
    this.inlet.push(new OutboxEnvelope(event, rowId, sink, routed, this, this.checkpoint));
    return true;
  }

  /** See StrandedRowProbe: rows below the floor this sink should have, delivered now and reported. */
  private async rescueStranded(): Promise<void> {
    const found = await this.probe.find(this.floor, [...this.held.keys(), ...this.heldForRestart]);
    if (found.length === 0) return;
    const room = Math.max(1, this.inlet.room);
    if (found.length > room) this.probe.again();
    const rows = await this.probe.rows(found.slice(0, room));
    const rescued = rows.filter((row) => !this.held.has(row[Column.id]) && this.take(row)).map((row) => row[Column.id]);
    this.countCaptured();
    if (rescued.length === 0) return;
    this.metrics.outboxStranded.inc({ sink: this.inlet.name }, rescued.length);
    this.logger.warn(
      { sink: this.inlet.name, floor: this.floor.toString(), ids: rescued },
      "outbox events were left below the reader's floor; delivering them now",
    );
  }
}
