import type { Schema } from 'convict';
import type { CommonSinkConfig, Sink, SinkContext } from './sink.js';

/** A key path relative to the sink (e.g. "url") and what is wrong with it. */
export interface ConfigProblem {
  readonly path: string;
  readonly message: string;
}

/**
 * What a sink type contributes: its own config keys (a convict schema that
 * documents each key, merged with the common ones), checks convict cannot
 * express, and a factory. Registered in registry.ts.
 */
export interface SinkModule<C extends object> {
  readonly type: string;
  readonly schema: Schema<C>;
  check?(config: C & CommonSinkConfig): ConfigProblem[];
  /** Values in this sink's config that must never be logged (passwords, secrets). */
  secrets?(config: C & CommonSinkConfig): string[];
  create(config: C & CommonSinkConfig, ctx: SinkContext): Sink;
}
