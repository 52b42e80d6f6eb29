import type pg from 'pg';

/** Which statements each connection has prepared; a connection that is dropped takes its entry with it. */
const preparedOn = new WeakMap<pg.ClientBase, Set<string>>();
let statements = 0;

/**
 * A statement PREPAREd (in SQL) on each connection the first time that
 * connection runs it, then EXECUTEd by name. Unlike a protocol-level named
 * statement, an EXECUTE can share one simple query (one round trip) with
 * others; unlike a plain statement it is not planned again each time: for the
 * outbox page query planning was ~300 µs of the ~450 µs of Postgres CPU a
 * page of a few rows cost. Postgres replans by itself when the table changes.
 */
export class PreparedSql {
  readonly name: string;
  private readonly prepare: string;

  /** `types`: the parameters' SQL types, for $1, $2, … in `text`. */
  constructor(text: string, types: readonly string[] = []) {
    this.name = `pgbridge_stmt_${++statements}`;
    this.prepare = `PREPARE ${this.name}${types.length > 0 ? `(${types.join(', ')})` : ''} AS ${text}`;
  }

  /** EXECUTE with `args`, SQL expressions (literals) for the parameters. */
  execute(...args: readonly string[]): string {
    return args.length > 0 ? `EXECUTE ${this.name}(${args.join(', ')})` : `EXECUTE ${this.name}`;
  }

  /** Prepares whichever of `all` `db` has not prepared yet, in one round trip. */
  static async prepareOn(db: pg.ClientBase, all: readonly PreparedSql[]): Promise<void> {
    let done = preparedOn.get(db);
    const missing = all.filter((s) => !done?.has(s.name));
    if (missing.length === 0) return;
    await db.query(missing.map((s) => s.prepare).join(';'));
    if (!done) preparedOn.set(db, (done = new Set()));
    for (const s of missing) done.add(s.name);
  }
}
