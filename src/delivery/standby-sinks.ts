import type { Logger } from 'pino';
import type { SinkConfig } from '../config/types.js';
import { errorMessage } from '../errors.js';
import type { Sink } from '../sinks/sink.js';
import { keepConnected } from './keep-connected.js';

/**
 * The sinks of an instance that stands by, connected and kept connected so
 * that /readyz says whether it could take over at once. Nothing is ever sent
 * on them: close() ends the checks and closes every connection before a
 * takeover (whose runners open their own) or a stop.
 */
export class StandbySinks {
  readonly sinks: readonly Sink[];
  private readonly stopped = new AbortController();
  private readonly checks: ReadonlyArray<Promise<void>>;

  constructor(
    configs: readonly SinkConfig[],
    create: (config: SinkConfig) => Sink,
    private readonly logger: Logger,
  ) {
    this.sinks = configs.map(create);
    const { signal } = this.stopped;
    this.checks = this.sinks.map((sink, i) => keepConnected(sink, () => sink.connect(signal), { retry: configs[i].retry, logger, signal }));
  }

  async close(): Promise<void> {
    this.stopped.abort();
    await Promise.all(this.checks);
    await Promise.all(
      this.sinks.map((sink) => sink.close().catch((err) => this.logger.warn({ sink: sink.name, err: errorMessage(err) }, 'close failed'))),
    );
  }
}
