import type pg from 'pg';

export interface Statement {
  readonly sql: string;
  readonly params: readonly unknown[];
  /** Which checked-out client ran it (a transaction), or null for the pool itself. */
  readonly client: number | null;
}

/**
 * Stands in for pg.Pool where only the statements matter: records each one,
 * answers with no rows (or what `answer` says), and fails the next
 * `failures` statements. The one SQL flavour it knows is none: it runs nothing.
 */
export class FakePool {
  readonly statements: Statement[] = [];
  failures = 0;
  answer: (sql: string, params: readonly unknown[]) => unknown[] = () => [];
  private clients = 0;

  /** A statement as text and parameters, or as pg's query config (rowMode 'array': `answer` gives the rows as arrays). */
  query(sql: string | pg.QueryConfig, params: readonly unknown[] = []): Promise<{ rows: unknown[]; rowCount: number }> {
    return typeof sql === 'string' ? this.run(sql, params, null) : this.run(sql.text, sql.values ?? [], null);
  }

  async connect(): Promise<unknown> {
    const id = ++this.clients;
    return {
      query: (sql: string | pg.QueryConfig, params: readonly unknown[] = []) =>
        typeof sql === 'string' ? this.run(sql, params, id) : this.run(sql.text, sql.values ?? [], id),
      on: () => {},
      off: () => {},
      release: () => {},
    };
  }

  asPool(): pg.Pool {
    return this as unknown as pg.Pool;
  }

  /** The statements, first words only (`DELETE FROM pgbridge.outbox`), for order checks. */
  outline(): string[] {
    return this.statements.map((s) => s.sql.trim().replace(/\s+/g, ' ').split(' ').slice(0, 3).join(' '));
  }

  private async run(sql: string, params: readonly unknown[], client: number | null): Promise<{ rows: unknown[]; rowCount: number }> {
    this.statements.push({ sql, params, client });
    if (this.failures > 0 && !/^(ROLLBACK)/.test(sql)) {
      this.failures--;
      throw new Error('connection terminated');
    }
    const rows = this.answer(sql, params);
    return { rows, rowCount: rows.length };
  }
}
