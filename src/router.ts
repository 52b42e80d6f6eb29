import type { RouteOp } from './config/schema.js';
import type { Route } from './config/types.js';
import { lowerOp, type BridgeEvent } from './event.js';

/** What a source asks of the routes. */
export interface Routes {
  /** The sinks an event goes to, in config order; none when no route takes it. */
  sinksFor(event: BridgeEvent): readonly string[];
  /**
   * The tables (by op) and channels whose events a sink gets, or null
   * when it gets every event: lets SQL leave out rows that only other sinks want.
   */
  sourcesFor(sink: string): RoutedSources | null;
}

/**
 * Routes that may hold an event: sinksFor gives null for an event to be left
 * where it is (outbox row, slot), neither sent nor confirmed, for a restart
 * with a config that has its table (see HeldNewTables). Only the durable modes get them.
 */
export interface HoldingRoutes {
  sinksFor(event: BridgeEvent): readonly string[] | null;
  sourcesFor(sink: string): RoutedSources | null;
}

export interface RoutedSources {
  readonly tables: Array<{ schema: string; table: string; op: RouteOp }>;
  readonly channels: string[];
}

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
