import type { SinkConfig } from '../config/types.js';
import { RetriableError } from '../errors.js';
import type { BridgeEvent } from '../event.js';
import type { Sink, SinkClient } from './sink.js';

/**
 * A sink as its config describes it: name, type and the common batching keys
 * come from the config, the client from the type's runtime module, whose
 * loading starts at once so that readiness is known almost from the start.
 */
export class ConfiguredSink implements Sink {
  private client: SinkClient | undefined;
  private readonly loading: Promise<SinkClient>;

  constructor(
    private readonly config: SinkConfig,
    load: () => Promise<SinkClient>,
  ) {
    this.loading = load().then((client) => (this.client = client));
    // A failed load is reported by connect(), which the runner calls (and retries) before any send.
    this.loading.catch(() => undefined);
  }

  get name(): string {
    return this.config.name;
  }
  get type(): string {
    return this.config.type;
  }
  get maxBatch(): number {
    return this.config.batch.max_events;
  }
  get maxInFlight(): number {
    return this.config.max_in_flight;
  }
  get batchWaitMs(): number {
    return this.config.batch.max_wait_ms;
  }

  /** Connects the client unless it is ready already. */
  async connect(signal: AbortSignal): Promise<void> {
    const client = this.client ?? (await this.loading);
    if (!client.isReady()) await client.connect(signal);
  }

  send(batch: readonly BridgeEvent[], signal: AbortSignal): Promise<void> {
    if (this.client === undefined) return Promise.reject(new RetriableError(`sink ${this.name}: not connected`, { code: 'PGBRIDGE_NOT_CONNECTED' }));
    return this.client.send(batch, signal);
  }

  isReady(): boolean {
    return this.client?.isReady() ?? false;
  }

  async recheck(signal: AbortSignal): Promise<void> {
    await this.client?.recheck?.(signal);
  }

  async close(): Promise<void> {
    const client = this.client ?? (await this.loading.catch(() => undefined));
    await client?.close();
  }
}
