/**
 * Settles with `work`, or rejects with `abortError(signal)` as soon as
 * `signal` aborts. `work` itself cannot be cancelled and goes on: its late
 * rejection is swallowed and a value it yields after the abort goes to
 * `discard` (e.g. to close a connection nobody waits for any more).
 */
export function untilAborted<T>(
  work: Promise<T>,
  signal: AbortSignal,
  abortError: (signal: AbortSignal) => unknown,
  discard?: (late: T) => void,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(abortError(signal));
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        if (signal.aborted) discard?.(value);
        else resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}
