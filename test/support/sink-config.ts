import { pino } from 'pino';
import { loadConfig } from '../../src/config/load.js';
import type { SinkConfig } from '../../src/config/types.js';
import { sinkModules } from '../../src/sinks/registry.js';
import type { Sink, SinkContext } from '../../src/sinks/sink.js';
import { writeConfig } from './bridge.js';

export const silentContext = (database: string): SinkContext => ({ logger: pino({ level: 'silent' }), format: { database } });

/** One sink's config as `pgbridge run` sees it: the raw keys through the real loader (defaults, checks). */
export function loadSinkConfig(raw: Record<string, unknown>): SinkConfig {
  const file = writeConfig({ capture: [{ table: 'public.orders' }], sinks: [raw], http: { port: 0 } });
  return loadConfig(file).sinks[0];
}

/** A sink made the way the bridge makes it: loaded config, then its module from the registry. */
export function sinkFromConfig(raw: Record<string, unknown>, ctx: SinkContext): Sink {
  const config = loadSinkConfig(raw);
  const module = sinkModules.get(config.type);
  if (!module) throw new Error(`no sink module for type ${config.type}`);
  return module.create(config as never, ctx);
}
