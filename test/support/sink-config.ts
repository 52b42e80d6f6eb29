import assert from 'node:assert/strict';
import { pino } from 'pino';
import { loadConfig, sinkKeys, type Problem } from '../../src/config/load.js';
import type { SinkConfig } from '../../src/config/types.js';
import type { BridgeEvent } from '../../src/event.js';
import { ConfiguredSink } from '../../src/sinks/configured-sink.js';
import { createSink } from '../../src/sinks/create.js';
import type { Sink, SinkClient, SinkContext } from '../../src/sinks/sink.js';
import { writeConfig } from './bridge.js';

export const silentContext = (database: string): SinkContext => ({ logger: pino({ level: 'silent' }), format: { database } });

/** One sink's config as `pgbridge run` sees it: the raw keys through the real loader (defaults, checks). */
export function loadSinkConfig(raw: Record<string, unknown>): SinkConfig {
  const file = writeConfig({ capture: [{ table: 'public.orders' }], sinks: [raw], http: { port: 0 } });
  return loadConfig(file).sinks[0];
}

/** One sink's keys through its type's schema only (defaults, types, formats), without the type's check(): for testing check() itself. */
export function sinkConfigKeys(raw: Record<string, unknown>): SinkConfig {
  const problems: Problem[] = [];
  const config = sinkKeys(raw, 'sink', problems);
  if (config === undefined) throw new Error(problems.map((p) => `${p.path}: ${p.message}`).join('\n'));
  return config;
}

/** A sink made the way the bridge makes it: loaded config, then its type's descriptor from the registry. */
export function sinkFromConfig(raw: Record<string, unknown>, ctx: SinkContext): Sink {
  return createSink(loadSinkConfig(raw), ctx);
}

/** A configured sink around a client the test built itself (e.g. a stdout client writing to a file). */
export const configuredSink = (config: SinkConfig, client: SinkClient): Sink => new ConfiguredSink(config, async () => client);

/** The error `target.send(batch)` rejects with; fails the test when it resolves. */
export async function sendError(target: Sink, batch: readonly BridgeEvent[]): Promise<unknown> {
  try {
    await target.send(batch, new AbortController().signal);
  } catch (err) {
    return err;
  }
  assert.fail('send resolved');
}
