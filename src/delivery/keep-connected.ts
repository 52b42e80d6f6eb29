import type { Logger } from 'pino';
import { errorMessage } from '../errors.js';
import { backoffDelay, sleep, type RetryPolicy } from './backoff.js';

/** How often a connected sink is looked at again: a lost connection is reopened (and /readyz back to ok) about this soon. */
const READY_CHECK_MS = 1000;

export interface KeepConnectedOptions {
  readonly retry: RetryPolicy;
  readonly logger: Logger;
  /** Ends the loop. */
  readonly signal: AbortSignal;
}

/**
 * Connects a sink, and again whenever it turns not ready (a broker connection
 * lost, a webhook no probe or request reached), with the sink's backoff,
 * and lets a ready one look at its far end again (an idle webhook),
 * until `signal` aborts. Sends connect by themselves too, but an idle bridge
 * has none: without this loop /readyz would stay 503 after the far end is back.
 */
export async function keepConnected(
  sink: { readonly name: string; isReady(): boolean; recheck?(signal: AbortSignal): Promise<void> },
  connect: () => Promise<void>,
  { retry, logger, signal }: KeepConnectedOptions,
): Promise<void> {
  let failures = 0;
  while (!signal.aborted) {
    if (sink.isReady()) {
      failures = 0;
      await sleep(READY_CHECK_MS, signal);
      await sink.recheck?.(signal);
      continue;
    }
    try {
      await connect();
    } catch (err) {
      if (signal.aborted) return;
      failures++;
      if (failures === 1) logger.warn({ sink: sink.name, err: errorMessage(err) }, 'sink not reachable, retrying');
      await sleep(backoffDelay(failures, retry), signal);
    }
  }
}
