import type { Logger } from 'pino';
import type { SinkConfig } from '../config/types.js';
import { errorMessage } from '../errors.js';
import type { Sink } from '../sinks/sink.js';
import { keepConnected } from './keep-connected.js';

/**
 * A standby connects its sinks to check them, except an MQTT sink with a fixed
 * client_id: brokers keep one connection per client id, so the standby's would
 * push the delivering instance's off.
 */
export const checkedWhileStandingBy = (sink: SinkConfig): boolean => !(sink.type === 'mqtt' && sink.client_id != null);
export const UNCHECKED_STANDBY_SINK = 'not checked while standing by: its fixed client_id allows one connection';

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
