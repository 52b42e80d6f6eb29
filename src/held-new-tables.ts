import type { Logger } from 'pino';
import { qualifiedName } from './config/table-name.js';
import type { BridgeConfig } from './config/types.js';
import { errorMessage } from './errors.js';
import type { BridgeEvent, ChannelEvent } from './event.js';
import type { RoutedSources, Routes } from './router.js';

/** Reads the config file again, as `run` read it at start; throws what loading throws. */
export type ConfigReader = () => BridgeConfig;

/**
 * The routes of a durable mode (outbox, wal) for a bridge that meets a
 * captured table its config does not name: an `install` since it started
 * added the table's trigger or put it in the publication. The usual way there
 * is to edit the config file and run `install`; so the file is read again,
 * once per such table. When it now captures the table, the table's events are
 * held where they are (outbox row, slot), neither sent nor confirmed, and
 * `restart` is asked to deliver with the file's config from where delivery
 * stands. Otherwise (an install with another file, or a table left out of the
 * file without `uninstall`) they go where the running routes send them.
 */
export class HeldNewTables implements Routes {
  /** schema → tables: looked up per event without building a key. */
  private readonly captured = new Map<string, Set<string>>();
  /** `schema.table` → held or not, decided once per table not captured. */
  private readonly decided = new Map<string, boolean>();
  private restartAsked = false;

  constructor(
    config: BridgeConfig,
    private readonly routes: Routes,
    private readonly reread: ConfigReader,
    private readonly restart: (config: BridgeConfig) => void,
    private readonly log: Logger,
  ) {
    for (const table of config.capture) {
      let tables = this.captured.get(table.schema);
      if (!tables) this.captured.set(table.schema, (tables = new Set()));
      tables.add(table.table);
    }
  }

  sinksFor(event: ChannelEvent): readonly string[];
  sinksFor(event: BridgeEvent): readonly string[] | null;
  sinksFor(event: BridgeEvent): readonly string[] | null {
    if (event.kind === 'row' && event.targetSink === undefined && !this.captured.get(event.schema)?.has(event.table)) {
      if (this.held(event.schema, event.table)) return null;
    }
    return this.routes.sinksFor(event);
  }

  sourcesFor(sink: string): RoutedSources | null {
    return this.routes.sourcesFor(sink);
  }

  private held(schema: string, table: string): boolean {
    const name = qualifiedName({ schema, table });
    let held = this.decided.get(name);
    if (held === undefined) {
      held = this.decide(name, schema, table);
      this.decided.set(name, held);
    }
    return held;
  }

  private decide(name: string, schema: string, table: string): boolean {
    let config: BridgeConfig;
    try {
      config = this.reread();
    } catch (err) {
      this.log.warn(
        { table: name, err: errorMessage(err) },
        'a captured table not in the running config, and the config file cannot be read again: its events go where the running routes send them (with routes: none)',
      );
      return false;
    }
    if (!config.capture.some((t) => t.schema === schema && t.table === table)) {
      this.log.warn(
        { table: name, file: config.file },
        'a captured table not in the config file (an install with another file, or left out of the file without uninstall): its events go where the running routes send them (with routes: none); run install with this file, or restart with the one that captures it',
      );
      return false;
    }
    this.log.info(
      { table: name, file: config.file },
      'install added a captured table since start and the config file has it: its events wait (outbox or slot) while delivery restarts with the file',
    );
    if (!this.restartAsked) {
      this.restartAsked = true;
      this.restart(config);
    }
    return true;
  }
}
