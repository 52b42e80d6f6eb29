import type { SinkConfig } from '../config/types.js';
import { sinkTypes } from './registry.js';
import { ConfiguredSink } from './configured-sink.js';
import type { Sink, SinkClient, SinkContext } from './sink.js';

/** The client of one configured sink, its type's runtime module loaded first. */
export async function createSinkClient(config: SinkConfig, ctx: SinkContext): Promise<SinkClient> {
  const descriptor = sinkTypes.get(config.type);
  if (descriptor === undefined) throw new Error(`unknown sink type ${JSON.stringify(config.type)}`);
  const factory = await descriptor.load();
  return factory.createSink(config, ctx);
}

/** One configured sink, ready to hand to a delivery runner; its runtime module loads in the background. */
export function createSink(config: SinkConfig, ctx: SinkContext): Sink {
  return new ConfiguredSink(config, () => createSinkClient(config, ctx));
}

/**
 * Starts loading the runtime modules of these sinks' types, and nothing more
 * (no client, no connection): createSink later finds them loaded. A failed
 * load is reported by that sink's connect(), as without this.
 */
export function preloadSinkModules(configs: readonly SinkConfig[]): void {
  for (const type of new Set(configs.map((c) => c.type))) {
    const loading = sinkTypes.get(type)?.load();
    loading?.catch(() => undefined);
  }
}
