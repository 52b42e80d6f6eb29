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

/** One event a sink refused for good, and why. */
export interface EventFailure {
  readonly id: string;
  readonly reason: string;
}

/** Sending the same events again cannot succeed: they go to the dead-letter table. */
export class PermanentError extends BridgeError {
  /** Ids of the events that failed; undefined means the whole batch. The others were delivered. */
  readonly failedIds: readonly string[] | undefined;
  /** Events of one batch can fail for reasons of their own (each its own subject, topic, key). */
  private readonly reasons: Map<string, string>;

  constructor(message: string, options?: { cause?: unknown; failedIds?: readonly string[]; code?: string; reasons?: ReadonlyMap<string, string> }) {
    super(message, options?.code ?? 'PGBRIDGE_PERMANENT', false, options);
    this.failedIds = options?.failedIds;
    this.reasons = new Map(options?.reasons);
  }

  /** Events refused for reasons of their own: the message gives the first, each event's dead letter its own. */
  static ofEvents(failures: readonly EventFailure[], code: string): PermanentError {
    const more = failures.length > 1 ? ` (and ${failures.length - 1} more event(s))` : '';
    return new PermanentError(`${failures[0].reason}${more}`, {
      failedIds: failures.map((f) => f.id),
      reasons: new Map(failures.map((f) => [f.id, f.reason])),
      code,
    });
  }

  /** What the dead letter of event `id` records: its own reason when the sink gave one, else the message. */
  reasonFor(id: string): string {
    return this.reasons.get(id) ?? this.message;
  }

  /** Rewrites the message and every event's reason in place (ScrubbedSink takes secrets out of them). */
  rewrite(edit: (text: string) => string): void {
    this.message = edit(this.message);
    for (const [id, reason] of this.reasons) this.reasons.set(id, edit(reason));
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

/**
 * A string or buffer longer than the runtime can hold (V8: 2^29 characters):
 * the events' encoding failed, and trying the same events again cannot help.
 * Looked for along the causes too, as a library may wrap it.
 */
export function tooLargeToEncode(err: unknown): boolean {
  for (let at: unknown = err, depth = 0; at instanceof Error && depth < 4; at = at.cause, depth++) {
    if (at instanceof RangeError && at.message.includes('Invalid string length')) return true;
    const { code } = at as { code?: unknown };
    if (code === 'ERR_STRING_TOO_LONG' || code === 'ERR_BUFFER_TOO_LARGE') return true;
  }
  return false;
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}

/**
 * A command's failure on one line: the message, and what Postgres says
 * besides it (DETAIL, HINT), which often is the why: `cannot add relation "t"
 * to publication` alone does not say that t is an unlogged table.
 */
export function failureLine(err: unknown): string {
  const { detail, hint } = (err instanceof Error ? err : {}) as { detail?: unknown; hint?: unknown };
  const oneLine = (text: unknown): string => (typeof text === 'string' ? text.trim().replace(/\s*\n\s*/g, ' ') : '');
  const more = [oneLine(detail), oneLine(hint) && `hint: ${oneLine(hint)}`].filter(Boolean);
  return more.length === 0 ? errorMessage(err) : `${errorMessage(err)} (${more.join('; ')})`;
}
