import { statSync } from 'node:fs';
import type { Logger } from 'pino';
import { qualifiedName, tableKey } from './config/table-name.js';
import type { BridgeConfig } from './config/types.js';
import { errorMessage } from './errors.js';
import type { BridgeEvent } from './event.js';
import type { HoldingRoutes, RoutedSources, Routes } from './router.js';

/** What the bridge lends a durable source for tables installed since start. */
export interface NewTableHooks {
  /** Reads the config file again, as `run` read it at start; throws what loading throws. */
  readonly reread: () => BridgeConfig;
  /** Stops delivery as on SIGTERM and starts it again with `config`, in the same process. */
  readonly restart: (config: BridgeConfig) => void;
}

/** How often a file that cannot be read is tried again while events wait for it. */
const RETRY_MS = 2000;
/** How often a table the file lacks looks whether the file changed since. */
const RECHECK_MS = 1000;

/** A table not captured by the running config: held, or routed as it is until the file changes. */
type Decision = { readonly held: true } | { readonly held: false; readonly stamp: string; nextCheck: number };

/**
 * The routes of a durable mode (outbox, wal) for a bridge that meets a
 * captured table its config does not name: an `install` since start added the
 * table's trigger or put it in the publication. The usual way there is to
 * edit the config file and run `install`, so the file is read again. When it
 * captures the table, the table's events are held (sinksFor gives null) and
 * delivery restarts with the file. When the file cannot be read, they are held
 * too, and it is read again every RETRY_MS until it can: then delivery
 * restarts with it, whatever it says. So an event held is always followed by a
 * restart, which sends it. When the file lacks the table (an install with
 * another file, or a table left out without `uninstall`), or changes where the
 * bridge's own objects are (its database, instance, mode, slot), its events
 * go by the running routes, until the file changes.
 */
export class HeldNewTables implements HoldingRoutes {
  /** schema → tables: looked up per event without building a key. */
  private readonly captured = new Map<string, Set<string>>();
  private readonly decided = new Map<string, Decision>();
  private restartAsked = false;
  /** Delivery stops: nothing more is read or asked for (a reader's last page may still route). */
  private closed = false;
  private retry: NodeJS.Timeout | undefined;
  private lastReadError: string | undefined;

  constructor(
    private readonly config: BridgeConfig,
    private readonly routes: Routes,
    private readonly hooks: NewTableHooks,
    private readonly log: Logger,
  ) {
    for (const table of config.capture) {
      let tables = this.captured.get(table.schema);
      if (!tables) this.captured.set(table.schema, (tables = new Set()));
      tables.add(table.table);
    }
  }

  sinksFor(event: BridgeEvent): readonly string[] | null {
    if (event.kind === 'row' && event.targetSink === undefined && !this.captured.get(event.schema)?.has(event.table)) {
      if (this.held(event.schema, event.table)) return null;
    }
    return this.routes.sinksFor(event);
  }

  sourcesFor(sink: string): RoutedSources | null {
    return this.routes.sourcesFor(sink);
  }

  /** For /readyz: while the file cannot be read, held events wait (in wal mode every later transaction's confirmation too). */
  readiness(): Record<string, string> {
    if (this.retry === undefined || this.lastReadError === undefined) return {};
    return { config: `cannot be read again (${this.lastReadError}); events of a table install added since start wait for it` };
  }

  /** Delivery stops: no more reads of the file for this run. */
  close(): void {
    this.closed = true;
    clearTimeout(this.retry);
    this.retry = undefined;
  }

  private held(schema: string, table: string): boolean {
    const name = qualifiedName({ schema, table });
    // By key: "a.b".c and a."b.c" have the same qualified name.
    const key = tableKey({ schema, table });
    const decision = this.decided.get(key);
    if (decision?.held) return true;
    // Not sent, not confirmed: the next run reads it again and decides.
    if (this.closed) return true;
    if (decision !== undefined) {
      if (Date.now() < decision.nextCheck) return false;
      decision.nextCheck = Date.now() + RECHECK_MS;
      if (fileStamp(this.config.file) === decision.stamp) return false;
    }
    const next = this.decide(name, schema, table);
    this.decided.set(key, next);
    return next.held;
  }

  private decide(name: string, schema: string, table: string): Decision {
    const stamp = fileStamp(this.config.file);
    let config: BridgeConfig;
    try {
      config = this.hooks.reread();
    } catch (err) {
      this.log.warn(
        { table: name, file: this.config.file, err: errorMessage(err), retry_ms: RETRY_MS },
        'a captured table not in the running config, and the config file cannot be read again: its events wait until it can be, then delivery starts again with it',
      );
      this.retryReading(errorMessage(err));
      return { held: true };
    }
    const moved = movedKeys(this.config, config);
    if (moved.length > 0) {
      this.log.error(
        { table: name, file: config.file, changed: moved },
        'install added a captured table since start, but the config file also changes where delivery reads from: its events go where the running routes send them (with routes: none); restart pgbridge to apply the file',
      );
      return { held: false, stamp, nextCheck: Date.now() + RECHECK_MS };
    }
    if (!config.capture.some((t) => t.schema === schema && t.table === table)) {
      this.log.warn(
        { table: name, file: config.file },
        'a captured table not in the config file (an install with another file, or left out of the file without uninstall): its events go where the running routes send them (with routes: none) until the file captures it',
      );
      return { held: false, stamp, nextCheck: Date.now() + RECHECK_MS };
    }
    this.log.info(
      { table: name, file: config.file },
      'install added a captured table since start and the config file has it: its events wait (outbox or slot) while delivery starts again with the file',
    );
    this.askRestart(config);
    return { held: true };
  }

  private retryReading(error: string): void {
    this.lastReadError = error;
    if (this.retry !== undefined || this.restartAsked) return;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      try {
        const config = this.hooks.reread();
        const moved = movedKeys(this.config, config);
        if (moved.length === 0) this.log.info({ file: config.file }, 'the config file can be read again: delivery starts again with it');
        // Held events are in this database, outbox and slot: the next run, with the running config, decides them again.
        else
          this.log.error(
            { file: config.file, changed: moved },
            'the config file can be read again but changes where delivery reads from; restart pgbridge to apply it',
          );
        this.askRestart(moved.length === 0 ? config : this.config);
      } catch (err) {
        if (errorMessage(err) !== this.lastReadError) {
          this.log.warn({ file: this.config.file, err: errorMessage(err) }, 'the config file still cannot be read; held events wait');
        }
        this.retryReading(errorMessage(err));
      }
    }, RETRY_MS);
    this.retry.unref();
  }

  private askRestart(config: BridgeConfig): void {
    if (this.restartAsked) return;
    this.restartAsked = true;
    this.close();
    this.hooks.restart(config);
  }
}

/** What tells one version of the file from another without reading it ('' when it cannot be seen). */
function fileStamp(file: string): string {
  try {
    const stat = statSync(file);
    return `${stat.mtimeMs}:${stat.size}:${stat.ino}`;
  } catch {
    return '';
  }
}

/** The keys that say where delivery reads from and records to: a restart with others changed would leave held events behind. */
function movedKeys(running: BridgeConfig, file: BridgeConfig): string[] {
  const keys: Array<[string, unknown, unknown]> = [
    ['postgres.url', running.postgres.url, file.postgres.url],
    ['delivery', running.delivery, file.delivery],
    ['instance', running.instance, file.instance],
    ['wal.slot', running.wal.slot, file.wal.slot],
    ['wal.publication', running.wal.publication, file.wal.publication],
  ];
  return keys.filter(([, a, b]) => a !== b).map(([key]) => key);
}
