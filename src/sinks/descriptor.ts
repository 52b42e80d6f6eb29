import type { Schema } from 'convict';
import type { ConfigFormat } from '../config/formats.js';
import type { CommonSinkConfig, ConfigProblem, SinkDefaults, TunableKey } from '../config/sink-schema.js';
import type { SinkClient, SinkContext } from './sink.js';

export type { ConfigProblem } from '../config/sink-schema.js';

/** What a sink type's runtime module (its `sink.ts`) exports. */
export interface SinkFactory<C extends object> {
  createSink(config: C & CommonSinkConfig, ctx: SinkContext): SinkClient;
}

/**
 * Everything the config layer knows of a sink type, without loading its
 * runtime (no client library is imported until a sink of the type is built).
 * One `descriptor.ts` per sink folder, listed in registry.ts.
 */
export interface SinkDescriptor<C extends object> {
  readonly type: string;
  /** A paragraph for the configuration reference: what one event becomes at this far end. */
  readonly reference: string;
  /** The type's own keys; the common ones (name, format, batch, max_in_flight, retry) are added by the loader. */
  readonly schema: Schema<C>;
  /** This type's defaults for the common batching and concurrency keys. */
  readonly defaults: SinkDefaults;
  /** What a common key means for this type, where that says more than the generic text. */
  readonly docs?: Partial<Record<TunableKey, string>>;
  /** Convict formats the schema names that no other schema has (its URL scheme). */
  readonly formats?: Readonly<Record<string, ConfigFormat>>;
  /** Checks convict cannot express, on the loaded config; paths are relative to the sink. */
  check?(config: C & CommonSinkConfig): ConfigProblem[];
  /**
   * Why a standby must not connect this sink to check it (a second connection
   * would push the delivering instance's off the far end), or undefined.
   */
  notCheckedOnStandby?(config: C & CommonSinkConfig): string | undefined;
  /** Values in this sink's config that must never be logged (passwords, secrets). */
  secrets?(config: C & CommonSinkConfig): string[];
  /** The runtime module: `() => import('./sink.js')`. */
  load(): Promise<SinkFactory<C>>;
}

/** A descriptor as the registry holds it, its config type erased (the loader checked the config against its schema). */
export type AnySinkDescriptor = SinkDescriptor<Record<string, unknown>>;

export const eraseConfigType = <C extends object>(descriptor: SinkDescriptor<C>): AnySinkDescriptor => descriptor as unknown as AnySinkDescriptor;

/** Types a descriptor against its config (the registry holds it as AnySinkDescriptor). */
export const defineSink = <C extends object>(descriptor: SinkDescriptor<C>): SinkDescriptor<C> => descriptor;
