/**
 * A steady stream of INSERTs into public.items while a test breaks things.
 * Only rows whose statement succeeded count as sent; a statement that fails
 * (Postgres restarting) is not retried, its ids are simply never used.
 */
import pg from 'pg';

export const ROWS_PER_STATEMENT = 5;

export interface StreamOptions {
  readonly firstId?: number;
  readonly rowsPerInsert?: number;
  readonly intervalMs?: number;
}

export class RowStream {
  /** Row ids committed, in commit order. */
  readonly sent: number[] = [];
  failedStatements = 0;
  private nextId: number;
  private stopped = false;
  private readonly pool: pg.Pool;
  private readonly loop: Promise<void>;

  constructor(
    url: string,
    private readonly options: StreamOptions = {},
  ) {
    this.nextId = options.firstId ?? 1;
    this.pool = new pg.Pool({ connectionString: url, max: 1, connectionTimeoutMillis: 2000 });
    this.pool.on('error', () => {});
    this.loop = this.run();
  }

  /** The newest committed row id (0 before the first). */
  get lastSent(): number {
    return this.sent.at(-1) ?? 0;
  }

  /** Stops inserting and resolves with every committed row id. */
  async stop(): Promise<number[]> {
    this.stopped = true;
    await this.loop;
    await this.pool.end().catch(() => {});
    return this.sent;
  }

  private async run(): Promise<void> {
    const rows = this.options.rowsPerInsert ?? ROWS_PER_STATEMENT;
    const interval = this.options.intervalMs ?? 20;
    while (!this.stopped) {
      const first = this.nextId;
      this.nextId += rows;
      try {
        await this.pool.query('INSERT INTO public.items (id) SELECT g FROM generate_series($1::bigint, $2::bigint) g', [first, first + rows - 1]);
        for (let id = first; id < first + rows; id++) this.sent.push(id);
      } catch {
        this.failedStatements++;
      }
      await new Promise((resolve) => setTimeout(resolve, interval));
    }
  }
}
