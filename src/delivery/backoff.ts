/** How often and how long to retry; a sink's `retry` config has this shape. */
export interface RetryPolicy {
  readonly initial_ms: number;
  readonly max_ms: number;
  /** 0 = retry forever. */
  readonly max_attempts: number;
}

/** Exponential backoff with full jitter (the AWS "full jitter" scheme kafkajs also uses). */
export function backoffDelay(attempt: number, retry: RetryPolicy, random = Math.random): number {
  const ceiling = Math.min(retry.max_ms, retry.initial_ms * 2 ** Math.min(attempt - 1, 30));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** Resolves after `ms`, or early (without throwing) when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * Runs `work` until it succeeds, at most `retry.max_attempts` times (0: no
 * limit), waiting backoffDelay between attempts; rethrows the last failure.
 * Stops early (rethrowing) when `signal` aborts.
 */
export async function withRetries<T>(
  work: () => Promise<T>,
  retry: RetryPolicy,
  onFailure: (err: unknown, attempt: number, retryInMs: number | undefined) => void,
  signal?: AbortSignal,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (err) {
      const last = (retry.max_attempts > 0 && attempt >= retry.max_attempts) || signal?.aborted === true;
      const delay = last ? undefined : backoffDelay(attempt, retry);
      onFailure(err, attempt, delay);
      if (delay === undefined) throw err;
      await sleep(delay, signal);
    }
  }
}
