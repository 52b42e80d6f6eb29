import type { RouteOp } from './config/schema.js';
import type { Route } from './config/types.js';
import { lowerOp, type BridgeEvent, type ChannelEvent } from './event.js';

/** What a source asks of the routes. */
export interface Routes {
  /** The sinks a channel message goes to, in config order; none when no route takes it. */
  sinksFor(event: ChannelEvent): readonly string[];
  /**
   * The sinks an event goes to, in config order; none when no route takes it.
   * null: hold it where it is (outbox row, slot), neither sent nor confirmed:
   * its table was installed since the config was read (see HeldNewTables).
   */
  sinksFor(event: BridgeEvent): readonly string[] | null;
  /**
   * The tables (by op) and channels whose events a sink gets, or null
   * when it gets every event: lets SQL leave out rows that only other sinks want.
   */
  sourcesFor(sink: string): RoutedSources | null;
}

export interface RoutedSources {
  readonly tables: Array<{ schema: string; table: string; op: RouteOp }>;
  readonly channels: string[];
}

/**
 * What a source that has no place to hold an event makes of a held one
 * (notify mode: the bridge gives it routes that never hold).
 */
export const NO_SINKS: readonly string[] = [];

/** Which sinks an event goes to: every route it matches, or every sink when there are no routes. */
export class Router implements Routes {
  private readonly cache = new Map<string, readonly string[]>();

  constructor(
    private readonly routes: readonly Route[] | null,
    private readonly sinkNames: readonly string[],
  ) {}

  sinksFor(event: BridgeEvent): readonly string[] {
    if (event.kind === 'row' && event.targetSink !== undefined) return this.sinkNames.filter((name) => name === event.targetSink);
    if (this.routes === null) return this.sinkNames;
    const key = event.kind === 'channel' ? `c\0${event.channel}` : `t\0${event.schema}\0${event.table}\0${event.op}`;
    let sinks = this.cache.get(key);
    if (!sinks) {
      sinks = this.match(event);
      this.cache.set(key, sinks);
    }
    return sinks;
  }

  /**
   * The tables (by op) and channels whose events a sink gets, or null
   * when it gets every event: lets SQL leave out rows that only other sinks want.
   */
  sourcesFor(sink: string): RoutedSources | null {
    if (this.routes === null) return null;
    const tables: Array<{ schema: string; table: string; op: RouteOp }> = [];
    const channels: string[] = [];
    for (const route of this.routes) {
      if (!route.to.includes(sink)) continue;
      const from = route.from;
      if (from.kind === 'channel') channels.push(from.channel);
      else for (const op of from.ops) tables.push({ schema: from.table.schema, table: from.table.table, op });
    }
    return { tables, channels };
  }

  private match(event: BridgeEvent): readonly string[] {
    const matched = new Set<string>();
    for (const route of this.routes ?? []) {
      const from = route.from;
      const hit =
        event.kind === 'channel'
          ? from.kind === 'channel' && from.channel === event.channel
          : from.kind === 'table' && from.table.schema === event.schema && from.table.table === event.table && from.ops.has(lowerOp(event.op));
      if (hit) route.to.forEach((name) => matched.add(name));
    }
    // Keep config order, so output does not depend on route order.
    return this.sinkNames.filter((name) => matched.has(name));
  }
}
