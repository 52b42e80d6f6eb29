import type { Dispatcher } from 'undici';

/** What came back for one request: the status, the headers and, unless 2xx, the start of the body. */
export interface Answer {
  readonly statusCode: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The body's first bytes as text, for an error message; empty for a 2xx (its body is discarded). */
  readonly text: string;
  /** The body went on past `text`. */
  readonly cut: boolean;
}

/** Why an exchange ended without an answer: its time ran out, or whoever asked gave up. */
export class ExchangeTimeout extends Error {
  constructor(ms: number) {
    super(`no answer within ${ms} ms`);
    this.name = 'TimeoutError';
  }
}

/** A refusal's body is only quoted (200 characters): 1 KB is enough of it, whatever the far end sends. */
const KEPT_BODY_BYTES = 1024;

/**
 * One request through undici's dispatch API, with a deadline for the whole
 * exchange. `request()` builds an AsyncResource, a body stream and an
 * abort-signal listener per call, which a sink that only needs the status
 * pays for on every event (with an AbortController for the deadline: 25-30%
 * of a single-event webhook's CPU besides the socket writes, profiled). Here
 * the deadline is one timer and the abort is the dispatch controller's own.
 */
export class Exchange implements Dispatcher.DispatchHandler {
  readonly answer: Promise<Answer>;
  /** True when the deadline passed (not when abort() was called). */
  expired = false;
  private resolve!: (answer: Answer) => void;
  private reject!: (err: unknown) => void;
  private controller: Dispatcher.DispatchController | undefined;
  private reason: Error | undefined;
  private readonly timer: NodeJS.Timeout;
  private statusCode = 0;
  private headers: Record<string, string | string[] | undefined> = {};
  private chunks: Buffer[] | undefined;
  private kept = 0;
  private cut = false;

  constructor(timeoutMs: number) {
    this.answer = new Promise<Answer>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    this.timer = setTimeout(() => {
      this.expired = true;
      this.abort(new ExchangeTimeout(timeoutMs));
    }, timeoutMs);
  }

  /** Clears the deadline of an exchange that was never dispatched. */
  finish(): void {
    clearTimeout(this.timer);
  }

  /**
   * Ends the exchange with `reason`. One still queued in undici (every connection busy,
   * or the host not answering the connect) ends now, and is aborted before it is sent
   * when its turn comes: its deadline is the caller's, not the queue's.
   */
  abort(reason: Error): void {
    if (this.reason !== undefined) return;
    this.reason = reason;
    if (this.controller) {
      this.controller.abort(reason);
    } else {
      clearTimeout(this.timer);
      this.reject(reason);
    }
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.reason !== undefined) controller.abort(this.reason);
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[] | undefined>): void {
    if (statusCode < 200) return; // 1xx: the answer is still to come
    this.statusCode = statusCode;
    this.headers = headers;
    if (statusCode >= 300) this.chunks = [];
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.chunks === undefined) return;
    if (this.kept + chunk.length > KEPT_BODY_BYTES) this.cut = true;
    if (this.kept >= KEPT_BODY_BYTES) return;
    this.chunks.push(chunk);
    this.kept += chunk.length;
  }

  onResponseEnd(): void {
    clearTimeout(this.timer);
    // Streaming decode drops a character the cut went through: as U+FFFD it would hide a secret's start from scrubCut.
    const text = this.chunks === undefined ? '' : new TextDecoder().decode(Buffer.concat(this.chunks).subarray(0, KEPT_BODY_BYTES), { stream: true });
    this.resolve({ statusCode: this.statusCode, headers: this.headers, text, cut: this.cut });
  }

  onResponseError(_controller: Dispatcher.DispatchController | null, err: Error): void {
    clearTimeout(this.timer);
    this.reject(err);
  }
}
