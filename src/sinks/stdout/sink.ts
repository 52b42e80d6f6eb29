import { once } from 'node:events';
import type { Writable } from 'node:stream';
import type { CommonSinkConfig } from '../../config/sink-schema.js';
import type { BridgeEvent } from '../../event.js';
import { encodeEvent } from '../../formats/index.js';
import type { SinkClient, SinkContext } from '../sink.js';

/** NDJSON on standard output: one event per line and nothing else. */
export class StdoutSink implements SinkClient {
  constructor(
    private readonly config: CommonSinkConfig,
    private readonly ctx: SinkContext,
    private readonly out: Writable = process.stdout,
  ) {}

  async connect(): Promise<void> {}

  async send(batch: readonly BridgeEvent[]): Promise<void> {
    // One flat string for the batch (join), not a tree of `+=` pieces flattened again when written.
    const lines = new Array<string>(batch.length + 1);
    for (let i = 0; i < batch.length; i++) lines[i] = oneLine(encodeEvent(batch[i], this.config.format, this.ctx.format));
    lines[batch.length] = '';
    const text = lines.join('\n');
    // Resolve only once the bytes are handed to the OS, so a crash right after cannot lose a confirmed line.
    if (!this.out.write(text)) await once(this.out, 'drain');
    await new Promise<void>((resolve, reject) => this.out.write('', (err) => (err ? reject(err) : resolve())));
  }

  isReady(): boolean {
    return true;
  }

  async close(): Promise<void> {}
}

const LINE_BREAK = /[\r\n]/g;

/**
 * An event's JSON on one line. A json column (or a NOTIFY payload) keeps its
 * text as written, line breaks between tokens included; inside JSON strings
 * they are always escaped, so every raw one is whitespace and a space keeps
 * the value the same.
 */
export function oneLine(json: string): string {
  LINE_BREAK.lastIndex = 0;
  return LINE_BREAK.test(json) ? json.replace(LINE_BREAK, ' ') : json;
}

export const createSink = (config: CommonSinkConfig, ctx: SinkContext): SinkClient => new StdoutSink(config, ctx);
