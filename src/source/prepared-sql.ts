import { randomBytes } from 'node:crypto';
import type pg from 'pg';

/** What one connection has prepared, under names of its own. */
interface Session {
  readonly prefix: string;
  readonly prepared: Set<PreparedSql>;
}

/** A connection that is dropped takes its entry with it. */
const sessions = new WeakMap<pg.ClientBase, Session>();
/**
 * Names are unique per process and connection: a session pooler that hands a
 * server session on without DISCARD ALL (server_reset_query = '') keeps what
 * an earlier connection prepared, and a PREPARE of the same name would fail.
 */
const PROCESS = randomBytes(4).toString('hex');
let connections = 0;
let statements = 0;

function sessionOf(db: pg.ClientBase): Session {
  let session = sessions.get(db);
  if (!session) sessions.set(db, (session = { prefix: `pgbridge_${PROCESS}_${++connections}_`, prepared: new Set() }));
  return session;
}

/** The start of a name for a statement prepared on `db` (by SQL or by the protocol) that no other process or connection uses. */
export function statementPrefix(db: pg.ClientBase): string {
  return sessionOf(db).prefix;
}

/**
 * A statement PREPAREd (in SQL) on each connection the first time that
 * connection runs it, then EXECUTEd by name. Unlike a protocol-level named
 * statement, an EXECUTE can share one simple query (one round trip) with
 * others; unlike a plain statement it is not planned again each time: for the
 * outbox page query planning was ~300 µs of the ~450 µs of Postgres CPU a
 * page of a few rows cost. Postgres replans by itself when the table changes.
 */
export class PreparedSql {
  private readonly id = ++statements;

  /** `types`: the parameters' SQL types, for $1, $2, … in `text`. */
  constructor(
    private readonly text: string,
    private readonly types: readonly string[] = [],
  ) {}

  /** EXECUTE on `db` (prepared there with prepareOn()), `args` being SQL expressions (literals) for the parameters. */
  execute(db: pg.ClientBase, ...args: readonly string[]): string {
    const name = this.nameOn(db);
    return args.length > 0 ? `EXECUTE ${name}(${args.join(', ')})` : `EXECUTE ${name}`;
  }

  /** Prepares whichever of `all` `db` has not prepared yet, in one round trip. */
  static async prepareOn(db: pg.ClientBase, all: readonly PreparedSql[]): Promise<void> {
    const session = sessionOf(db);
    const missing = all.filter((s) => !session.prepared.has(s));
    if (missing.length === 0) return;
    await db.query(missing.map((s) => s.prepare(db)).join(';'));
    for (const s of missing) session.prepared.add(s);
  }

  private prepare(db: pg.ClientBase): string {
    return `PREPARE ${this.nameOn(db)}${this.types.length > 0 ? `(${this.types.join(', ')})` : ''} AS ${this.text}`;
  }

  private nameOn(db: pg.ClientBase): string {
    const session = sessions.get(db);
    if (!session) throw new Error('PreparedSql.execute before prepareOn on this connection');
    return `${session.prefix}${this.id}`;
  }
}
