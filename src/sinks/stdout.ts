import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { encodeEvent } from '../formats/index.js';
import type { BridgeEvent } from '../event.js';
import type { SinkModule } from './module.js';
import type { CommonSinkConfig, Sink, SinkContext } from './sink.js';

/** NDJSON on standard output: one event per line and nothing else. */
export class StdoutSink implements Sink {
  readonly type = 'stdout';
  readonly maxBatch = 1000;
  readonly maxInFlight = 1;

  constructor(
    private readonly config: CommonSinkConfig,
    private readonly ctx: SinkContext,
    private readonly out: Writable = process.stdout,
  ) {}

  get name(): string {
    return this.config.name;
  }

  async connect(): Promise<void> {}

  async send(batch: readonly BridgeEvent[]): Promise<void> {
    let text = '';
    for (const event of batch) text += encodeEvent(event, this.config.format, this.ctx.format) + '\n';
    // Resolve only once the bytes are handed to the OS, so a crash right after cannot lose a confirmed line.
    if (!this.out.write(text)) await once(this.out, 'drain');
    await new Promise<void>((resolve, reject) => this.out.write('', (err) => (err ? reject(err) : resolve())));
  }

  isReady(): boolean {
    return true;
  }

  async close(): Promise<void> {}
}

export const stdoutSink: SinkModule<object> = {
  type: 'stdout',
  schema: {},
  create: (config, ctx) => new StdoutSink(config, ctx),
};
