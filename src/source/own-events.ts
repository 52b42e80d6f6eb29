import { tableKey, type TableName } from '../config/table-name.js';
import type { RowChangeEvent } from '../event.js';

/**
 * Which row events heard on the notify channel are this instance's. Instances
 * in one database may share a notify_channel, and every bridge on it hears
 * every instance's triggers and backfills: each event names the instance that
 * sent it, and one from a trigger installed before events named it (until
 * `install` runs again after an upgrade) counts when this config captures its
 * table. A table this instance captures as well is another instance's event
 * all the same: its own trigger sends this instance's.
 */
export class OwnEvents {
  private readonly tables: ReadonlySet<string>;

  constructor(
    private readonly instance: string,
    capture: readonly TableName[],
  ) {
    this.tables = new Set(capture.map(tableKey));
  }

  has(event: RowChangeEvent): boolean {
    if (event.fromInstance !== undefined) return event.fromInstance === this.instance;
    return this.tables.has(tableKey(event));
  }
}
