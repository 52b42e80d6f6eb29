import { isUtf8 } from 'node:buffer';
import type pg from 'pg';
import type { CaptureOp, RowCaptureOp } from '../../config/schema.js';
import type { CaptureTable } from '../../config/types.js';
import { qualifiedName, tableKey } from '../../config/table-name.js';
import type { BridgeEvent, RowChangeEvent, RowOp } from '../../event.js';
import type { AckTracker, TrackedTransaction } from './ack-tracker.js';
import { lsnKey, type Lsn } from './lsn.js';
import { pgMicrosToIso } from './pg-time.js';
import type { PgOutputMessage, WireValue } from './pgoutput.js';
import { fillUnchanged, loadShape, rowObject, type RelationShape, type RowJson } from './relation-cache.js';
import { RowCondition } from './row-condition.js';
import { isConditionError, sqlState } from '../../schema/row-filter.js';
import { missingOldRow, missingOldRowReason, partialRow, withoutUnchanged, type MissingOldRow } from './missing-old-row.js';
import type { OnceLog } from './once-log.js';
import { errorMessage } from '../../errors.js';
import type { TypeCatalog } from './type-catalog.js';
import type { FullXid } from './full-xid.js';
import { CHANNEL_PREFIX, LEGACY_WAL_READ_PREFIX, walReadPrefix } from '../../schema/wal-messages.js';
import { parseNotifyPayload } from '../notify-payload.js';
import type { CapturedRelations } from './captured-relations.js';

/** A published table's ops when the config does not say (the publication itself limits what is sent). */
const OP_NAMES: Record<CaptureOp, RowOp> = { insert: 'INSERT', update: 'UPDATE', delete: 'DELETE', truncate: 'TRUNCATE' };

const ALL_OPS: ReadonlySet<CaptureOp> = new Set<CaptureOp>(['insert', 'update', 'delete', 'truncate']);

export interface AssemblerOutput {
  /** Hands one event to delivery; a promise only when it must wait for room in a sink. */
  emit(event: BridgeEvent, tx: TrackedTransaction): void | Promise<void>;
  /** Stores the event as a dead letter for every sink routed to it; a promise only when the stream must wait. */
  deadLetter(event: RowChangeEvent, tx: TrackedTransaction, error: string): void | Promise<void>;
  /** A heartbeat (or other non-transactional message) decoded at `lsn`. */
  idlePosition(lsn: Lsn): void;
  readonly log: OnceLog;
}

interface OpenTransaction {
  readonly tracked: TrackedTransaction;
  readonly idPrefix: string;
  readonly txid: string;
  readonly ts: string;
  /** Place of the next change in the transaction: with the commit position, the event id. */
  next: number;
}

/**
 * pgoutput messages → events, one transaction at a time (Begin … Commit, as
 * pgoutput sends them without streaming): ids from the commit position, the
 * change's place in it and the instance, txid and commit time, rows rendered as to_json would.
 */
export class TransactionAssembler {
  private readonly shapes = new Map<number, RelationShape>();
  /** Each relation's table in the config (tableOf), looked up once per Relation message, not per change. */
  private readonly tables = new Map<number, CaptureTable>();
  /** The `where` / `changed` of a relation's table, when it has one the publication does not apply. */
  private readonly conditions = new Map<number, RowCondition>();
  /** The prefix of this instance's backfill READ messages; other instances' are left alone. */
  private readonly readPrefix: string;
  /** After the commit position and the place: another instance's events of the same transaction have the same two. */
  private readonly idSuffix: string;
  private open: OpenTransaction | undefined;

  constructor(
    /** Which configured table each relation is (by OID across renames). */
    private readonly relations: CapturedRelations,
    private readonly channels: ReadonlySet<string>,
    private readonly types: TypeCatalog,
    private readonly db: () => Promise<pg.PoolClient>,
    private readonly tracker: AckTracker,
    private readonly xids: FullXid,
    private readonly out: AssemblerOutput,
    private readonly publication: string,
    instance: string,
  ) {
    this.readPrefix = walReadPrefix(instance);
    // Instances sharing a database see the same transactions: the default one keeps the ids it always gave.
    this.idSuffix = instance === 'default' ? '' : `-${instance}`;
  }

  get inTransaction(): boolean {
    return this.open !== undefined;
  }

  /** The stream ended: a transaction without its Commit is sent again whole by the next one. */
  abandon(): void {
    if (this.open) this.tracker.abandon(this.open.tracked);
    this.open = undefined;
  }

  /** A promise only when the message needs to wait (catalog, room in a sink): the hot path stays synchronous. */
  handle(msg: PgOutputMessage): void | Promise<void> {
    switch (msg.tag) {
      case 'begin':
        this.open = {
          tracked: this.tracker.begin(),
          idPrefix: lsnKey(msg.finalLsn),
          txid: this.xids.full(msg.xid),
          ts: pgMicrosToIso(msg.commitTime),
          next: 0,
        };
        return;
      case 'commit': {
        const open = this.need(msg.tag);
        this.open = undefined;
        this.tracker.commit(open.tracked, msg.endLsn);
        return;
      }
      case 'relation':
        // DDL or a new session: types may have changed too (ALTER TYPE on a composite).
        this.types.forgetUserTypes();
        return loadShape(msg, this.types, this.db).then(async (shape) => {
          const table = this.tableOf(msg.relationOid, shape);
          this.warnMissingColumns(table, shape);
          this.shapes.set(msg.relationOid, shape);
          this.tables.set(msg.relationOid, table);
          const condition = await RowCondition.of(shape, table, this.publication, this.db).catch((err: unknown) => {
            this.unfiltered(
              table,
              err,
              '`where` / `changed` cannot be compiled against this shape of the table (as the WAL has it): its rows are delivered unfiltered',
            );
            return undefined;
          });
          if (condition) this.conditions.set(msg.relationOid, condition);
          else this.conditions.delete(msg.relationOid);
        });
      case 'origin':
      case 'type':
        return;
      case 'insert':
        return this.row(msg.relationOid, 'insert', msg.values, null);
      case 'update':
        return this.row(msg.relationOid, 'update', msg.values, msg.old, msg.oldIsKeyOnly);
      case 'delete':
        return this.row(msg.relationOid, 'delete', null, msg.old, msg.oldIsKeyOnly);
      case 'truncate':
        return this.truncate(msg.relationOids);
      case 'message':
        return this.message(msg);
    }
  }

  private eventId(open: OpenTransaction, index: number): string {
    return `${open.idPrefix}-${index}${this.idSuffix}`;
  }

  private need(what: string): OpenTransaction {
    if (!this.open) throw new Error(`pgoutput: ${what} outside a transaction`);
    return this.open;
  }

  private shape(oid: number): RelationShape {
    const shape = this.shapes.get(oid);
    if (!shape) throw new Error(`pgoutput: change for relation ${oid} before its Relation message`);
    return shape;
  }

  /**
   * The publication is what install made from a config; a table in it that
   * this process's config lacks was added by an install since it started (or
   * left out of the config without uninstall). Its changes are decoded whole;
   * the routes hold them for a restart with the file that has the table, or send them on (HeldNewTables).
   */
  private tableOf(oid: number, shape: RelationShape): CaptureTable {
    const key = tableKey(shape);
    const known = this.relations.tableOf(oid, shape.schema, shape.table);
    if (known && (known.schema !== shape.schema || known.table !== shape.table)) {
      this.out.log.warn(
        `renamed:${oid}:${key}`,
        { table: qualifiedName(known), now: qualifiedName(shape) },
        'a captured table was renamed or moved since start: its events keep the configured name (as its trigger keeps it in the trigger modes); put the new name in capture and routes, run `pgbridge install`, then restart',
      );
    }
    if (known) return known;
    this.out.log.warn(
      `table:${key}`,
      { table: qualifiedName(shape) },
      "a published table not in this process's config (an install since start, or left out of the config without uninstall): decoded with every column and op",
    );
    return { schema: shape.schema, table: shape.table, ops: ALL_OPS, columns: { insert: null, update: null, delete: null } };
  }

  /**
   * A listed column renamed or dropped since install: the events leave it out (they follow the
   * table's shape; the trigger modes fail the writer's statement instead), so the log says so.
   */
  private warnMissingColumns(table: CaptureTable, shape: RelationShape): void {
    const names = new Set(shape.names);
    const listed = new Set(Object.values(table.columns).flatMap((list) => list ?? []));
    const missing = [...listed].filter((c) => !names.has(c));
    if (missing.length === 0) return;
    this.out.log.warn(
      `columns:${tableKey(table)}:${missing.join('\0')}`,
      { table: qualifiedName(table), columns: missing },
      'columns listed in capture are no longer in the table (renamed or dropped): its events leave them out; fix `columns` and run `pgbridge install`',
    );
  }

  private row(
    oid: number,
    op: CaptureOp,
    values: readonly WireValue[] | null,
    old: readonly WireValue[] | null,
    keyOnly = false,
  ): void | Promise<void> {
    const open = this.need(op);
    const index = open.next++;
    const shape = this.shape(oid);
    const table = this.tables.get(oid)!;
    if (!table.ops.has(op)) return;
    const condition = this.conditions.get(oid);
    const filter = condition?.appliesTo(op) ? condition : undefined;
    const missing = missingOldRow(shape, op, values, old, keyOnly);
    if (missing) return this.incomplete(open, index, shape, table, op, values, old, missing, filter);
    // Whole: every unchanged TOASTed value is in the old row.
    const filled = values ? fillUnchanged(values, old)! : null;
    if (filter) {
      return this.judged(filter, op, (filled ?? old)!, old, table).then((passes) =>
        passes ? this.renderRow(open, index, shape, table, op, filled, old) : undefined,
      );
    }
    return this.renderRow(open, index, shape, table, op, filled, old);
  }

  /** Whether the row passes `where` / `changed`; one the condition fails for passes (delivered unfiltered). */
  private judged(
    filter: RowCondition,
    op: CaptureOp,
    values: readonly WireValue[],
    old: readonly WireValue[] | null,
    table: CaptureTable,
  ): Promise<boolean> {
    return filter.holds(op, values, old, this.db).catch((err: unknown) => {
      this.unfiltered(table, err, '`where` / `changed` failed for a row: delivered unfiltered');
      return true;
    });
  }

  /**
   * A change whose WAL record lacks the old row (MissingOldRow): a dead letter
   * for every routed sink, never a stop of the stream. A filter is still
   * applied when what the record has is enough to judge the row (an UPDATE's
   * `where` on its whole new row); otherwise the letter says it was not.
   */
  private incomplete(
    open: OpenTransaction,
    index: number,
    shape: RelationShape,
    table: CaptureTable,
    op: CaptureOp,
    values: readonly WireValue[] | null,
    old: readonly WireValue[] | null,
    missing: MissingOldRow,
    filter: RowCondition | undefined,
  ): void | Promise<void> {
    const name = qualifiedName(shape);
    const judgeable = filter !== undefined && values !== null && missing.unchanged.length === 0 && !filter.needsOldRow(op);
    const reason = missingOldRowReason(shape, op, missing, filter !== undefined && !judgeable);
    this.out.log.error(
      `old:${tableKey(shape)}`,
      { table: name, err: reason },
      "UPDATE or DELETE without the whole old row in the WAL (the table's replica identity was not FULL when it was written): each such change becomes a dead letter for its sinks, and the stream goes on",
    );
    const letter = (): void | Promise<void> =>
      this.renderRows(shape, values && withoutUnchanged(values), old, (n, o) => {
        const event: RowChangeEvent = {
          kind: 'row',
          id: this.eventId(open, index),
          schema: table.schema,
          table: table.table,
          op: OP_NAMES[op],
          ...partialRow(op, table.columns[op as RowCaptureOp], missing, n, o),
          txid: open.txid,
          ts: open.ts,
        };
        return this.out.deadLetter(event, open.tracked, reason);
      });
    if (judgeable) return this.judged(filter, op, values, null, table).then((passes) => (passes ? letter() : undefined));
    return letter();
  }

  private renderRow(
    open: OpenTransaction,
    index: number,
    shape: RelationShape,
    table: CaptureTable,
    op: CaptureOp,
    filled: readonly WireValue[] | null,
    old: readonly WireValue[] | null,
  ): void | Promise<void> {
    return this.renderRows(shape, filled, old, (n, o) => this.emitRow(open, index, shape, table, op, n, o));
  }

  /** The new and old rows' JSON handed to `use`: at once, unless rendering one needs a query (then after it). */
  private renderRows(
    shape: RelationShape,
    values: readonly WireValue[] | null,
    old: readonly WireValue[] | null,
    use: (newRow: RowJson | null, oldRow: RowJson | null) => void | Promise<void>,
  ): void | Promise<void> {
    const newRow = values ? shape.render(values, this.db) : null;
    const oldRow = old ? shape.render(old, this.db) : null;
    if (newRow instanceof Promise || oldRow instanceof Promise) return Promise.all([newRow, oldRow]).then(([n, o]) => use(n, o));
    return use(newRow, oldRow);
  }

  private emitRow(
    open: OpenTransaction,
    index: number,
    shape: RelationShape,
    table: CaptureTable,
    op: CaptureOp,
    newRow: RowJson | null,
    oldRow: RowJson | null,
  ): void | Promise<void> {
    const columns = table.columns[op as RowCaptureOp];
    const keyRow = (op === 'delete' ? oldRow : newRow)!;
    const event: RowChangeEvent = {
      kind: 'row',
      id: this.eventId(open, index),
      schema: table.schema,
      table: table.table,
      op: OP_NAMES[op],
      data: rowObject(keyRow, columns),
      old: oldRow ? rowObject(oldRow, columns) : null,
      key: shape.primaryKey.length === 0 ? null : rowObject(keyRow, shape.primaryKey),
      txid: open.txid,
      ts: open.ts,
    };
    return this.out.emit(event, open.tracked);
  }

  private async truncate(oids: readonly number[]): Promise<void> {
    const open = this.need('truncate');
    for (const oid of oids) {
      const index = open.next++;
      this.shape(oid); // throws for a relation whose Relation message never came
      const table = this.tables.get(oid)!;
      // TRUNCATE is captured only when the config lists it among the ops.
      if (!(table.ops as ReadonlySet<string>).has('truncate')) continue;
      const event: RowChangeEvent = {
        kind: 'row',
        id: this.eventId(open, index),
        schema: table.schema,
        table: table.table,
        op: 'TRUNCATE',
        data: 'null',
        old: null,
        key: null,
        txid: open.txid,
        ts: open.ts,
      };
      await this.out.emit(event, open.tracked);
    }
  }

  private async message(msg: Extract<PgOutputMessage, { tag: 'message' }>): Promise<void> {
    if (!msg.transactional) {
      // Heartbeats are written non-transactionally; they only tell where the stream is.
      if (!msg.prefix.startsWith(CHANNEL_PREFIX)) return this.out.idlePosition(msg.lsn);
      this.out.log.warn(
        `nontx:${msg.prefix}`,
        { prefix: msg.prefix },
        'ignoring a non-transactional pgbridge: message; use pg_logical_emit_message(true, …) for channel events',
      );
      return this.out.idlePosition(msg.lsn);
    }
    const open = this.need('message');
    const index = open.next++;
    if (msg.prefix === this.readPrefix || msg.prefix === LEGACY_WAL_READ_PREFIX) {
      const read = parseNotifyPayload(msg.content.toString('utf8'));
      if (!read) return;
      // Written by a backfill before an upgrade, still in the slot: its instance unknown, taken if this one captures its table.
      if (msg.prefix === LEGACY_WAL_READ_PREFIX && !this.relations.captures(read.schema, read.table)) return;
      await this.out.emit({ ...read, id: this.eventId(open, index), ts: open.ts }, open.tracked);
      return;
    }
    if (!msg.prefix.startsWith(CHANNEL_PREFIX)) return;
    const channel = msg.prefix.slice(CHANNEL_PREFIX.length);
    if (!this.channels.has(channel)) {
      this.out.log.warn(`chan:${channel}`, { channel }, 'a pgbridge: message for a channel not in the config; not delivered (add it to channels)');
      return;
    }
    if (!isUtf8(msg.content)) {
      this.out.log.warn(
        `utf8:${channel}`,
        { channel },
        'a pgbridge: message whose payload is not valid UTF-8: delivered with U+FFFD for each invalid byte sequence (send text; encode binary data as base64 or hex)',
      );
    }
    await this.out.emit(
      { kind: 'channel', id: this.eventId(open, index), channel, payload: msg.content.toString('utf8'), ts: open.ts },
      open.tracked,
    );
  }

  /**
   * The condition's own error (isConditionError): the same WAL would fail the same way on every
   * reconnection, so the row goes unfiltered. Rethrows any other (a lost connection: the stream starts again).
   */
  private unfiltered(table: CaptureTable, err: unknown, message: string): void {
    if (!isConditionError(err)) throw err;
    // Once per table and SQLSTATE: a message may quote the row's values, and each row would be a new one.
    this.out.log.warn(
      `where:${tableKey(table)}:${sqlState(err)}`,
      { table: qualifiedName(table), where: table.where, err: errorMessage(err) },
      message,
    );
  }
}
