/**
 * Errors with a stable `code`, in the undici/kafkajs habit: callers match on
 * `code` or on the class, and `retriable` says whether trying again can help.
 */
export class BridgeError extends Error {
  readonly code: string;
  readonly retriable: boolean;

  constructor(message: string, code: string, retriable: boolean, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.retriable = retriable;
  }
}

/** The far end may accept the same events later: back off and send them again. */
export class RetriableError extends BridgeError {
  /** The far end asked for this pause (HTTP Retry-After). */
  readonly retryAfterMs: number | undefined;

  constructor(message: string, options?: { cause?: unknown; retryAfterMs?: number; code?: string }) {
    super(message, options?.code ?? 'PGBRIDGE_RETRIABLE', true, options);
    this.retryAfterMs = options?.retryAfterMs;
  }
}

/** Sending the same events again cannot succeed: they go to the dead-letter table. */
export class PermanentError extends BridgeError {
  /** Ids of the events that failed; undefined means the whole batch. The others were delivered. */
  readonly failedIds: readonly string[] | undefined;

  constructor(message: string, options?: { cause?: unknown; failedIds?: readonly string[]; code?: string }) {
    super(message, options?.code ?? 'PGBRIDGE_PERMANENT', false, options);
    this.failedIds = options?.failedIds;
  }
}

/** A problem in the config file: reported as one line, exit status 2, no stack. */
export class ConfigError extends BridgeError {
  constructor(
    readonly file: string,
    readonly problems: readonly { path: string; message: string }[],
  ) {
    super(`${file}: ` + problems.map((p) => (p.path ? `${p.path}: ${p.message}` : p.message)).join('; '), 'PGBRIDGE_CONFIG', false);
  }
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}
