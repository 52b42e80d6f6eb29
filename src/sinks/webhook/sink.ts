import { Agent } from './undici-agent.js';
import type { BridgeEvent } from '../../event.js';
import { errorMessage, PermanentError, RetriableError } from '../../errors.js';
import { Scrubber } from '../../secrets.js';
import type { SinkClient, SinkContext } from '../sink.js';
import { secretList, webhookSecrets, type WebhookSinkConfig } from './config.js';
import { Exchange, type Answer } from './exchange.js';
import { withDefaults } from './headers.js';
import { buildRequest } from './request.js';
import { parseRetryAfter } from './retry-after.js';
import { signWebhook } from './signature.js';

const USER_AGENT = 'pgbridge';
/** undici's code for a request it will not build (a header value it cannot send, …). */
const UNDICI_INVALID_ARGUMENT = 'UND_ERR_INVALID_ARG';

/** POSTs events to one URL. 2xx is success; 408, 429, 5xx and network errors are retriable; the rest is permanent. */
export class WebhookSink implements SinkClient {
  private readonly agent: Agent;
  private readonly secrets: readonly string[];
  /** Takes the secrets out of a refusal's body before it is cut short: cut first, a secret across the cut would keep its start. */
  private readonly scrubber: Scrubber;
  /** The URL without user:password, which undici would silently drop. */
  private readonly url: string;
  private readonly origin: string;
  private readonly path: string;
  private readonly headers: Record<string, string>;
  private lastContent: Readonly<Record<string, string>> | undefined;
  private lastHeaders: Record<string, string> = {};
  /** Requests under way, by the signal that aborts them. */
  private readonly inFlight = new WeakMap<AbortSignal, Set<Exchange>>();
  /** The last probe or request got an HTTP answer (any status: the server is up); false until one does. */
  private reachable = false;
  /** When (performance.now()) the last HTTP answer came. */
  private answeredAt = 0;

  constructor(
    private readonly config: WebhookSinkConfig,
    private readonly ctx: SinkContext,
  ) {
    this.secrets = secretList(config.secret);
    this.scrubber = new Scrubber(webhookSecrets(config));
    const { url, authorization } = splitCredentials(config.url);
    this.url = url;
    const parsed = new URL(url);
    this.origin = parsed.origin;
    this.path = `${parsed.pathname}${parsed.search}`;
    this.headers = withDefaults(config.headers, { 'user-agent': USER_AGENT, ...(authorization ? { authorization } : {}) });
    this.agent = new Agent({ connections: config.max_in_flight, keepAliveTimeout: 30_000, connect: { timeout: config.timeout_ms } });
  }

  private get name(): string {
    return this.config.name;
  }

  /** Reachability probe, unless reachable already: any HTTP answer to a HEAD request will do. */
  async connect(signal: AbortSignal): Promise<void> {
    if (this.reachable) return;
    const unreachable = await this.probe(signal);
    if (unreachable)
      throw new RetriableError(`webhook ${this.name}: cannot reach ${new URL(this.url).host}: ${unreachable.reason}`, { cause: unreachable.err });
  }

  isReady(): boolean {
    return this.reachable;
  }

  /** An HTTP server can go away without a connection to notice it: probed again once it has not answered for probe_interval_ms. */
  async recheck(signal: AbortSignal): Promise<void> {
    const interval = this.config.probe_interval_ms;
    if (!this.reachable || interval === 0 || performance.now() - this.answeredAt < interval) return;
    const unreachable = await this.probe(signal);
    if (unreachable === undefined || signal.aborted) return;
    this.reachable = false;
    this.ctx.logger.warn({ err: unreachable.reason }, 'webhook no longer answers its probe');
  }

  /** A HEAD request: any HTTP answer will do. Resolves with why it got none. */
  private async probe(signal: AbortSignal): Promise<{ reason: string; err: unknown } | undefined> {
    const exchange = new Exchange(this.config.timeout_ms);
    try {
      await this.dispatch(exchange, 'HEAD', this.headers, null, signal);
      this.answered();
      return undefined;
    } catch (err) {
      return { reason: exchange.expired ? `no answer within ${this.config.timeout_ms} ms` : errorMessage(err), err };
    }
  }

  private answered(): void {
    this.reachable = true;
    this.answeredAt = performance.now();
  }

  async send(batch: readonly BridgeEvent[], signal: AbortSignal): Promise<void> {
    const req = buildRequest(batch, this.config, this.ctx.format);
    let headers = this.headersWith(req.headers);
    if (this.secrets.length > 0) {
      const timestamp = Math.floor(Date.now() / 1000);
      headers = { ...headers };
      headers['webhook-id'] = req.messageId;
      headers['webhook-timestamp'] = String(timestamp);
      headers['webhook-signature'] = signWebhook(this.secrets, req.messageId, timestamp, req.body);
    }
    const answer = await this.exchange(headers, req.body, signal, batch);
    const { statusCode } = answer;
    if (statusCode >= 200 && statusCode < 300) return;
    const text = (answer.cut ? this.scrubber.scrubCut(answer.text) : this.scrubber.scrub(answer.text)).slice(0, 200);
    const detail = `webhook ${this.name}: HTTP ${statusCode}${redirectNote(statusCode, answer.headers.location)}${text ? `: ${text}` : ''}`;
    if (statusCode === 408 || statusCode === 429 || statusCode >= 500) {
      throw new RetriableError(detail, { retryAfterMs: parseRetryAfter(answer.headers['retry-after']), code: `PGBRIDGE_HTTP_${statusCode}` });
    }
    throw new PermanentError(detail, { code: `PGBRIDGE_HTTP_${statusCode}`, failedIds: batch.map((event) => event.id) });
  }

  /** The sink's headers with a request's content headers: the same object again while those are the same (shared) object. */
  private headersWith(content: Readonly<Record<string, string>>): Record<string, string> {
    if (content !== this.lastContent) {
      this.lastContent = content;
      this.lastHeaders = { ...this.headers, ...content };
    }
    return this.lastHeaders;
  }

  /**
   * One request; network errors and the deadline become RetriableError, an abort by `signal` is passed on as it is.
   * A request undici refuses to build fails for good for `batch`: the sink's own headers went out with its probe
   * already, so what undici refuses is what this request adds for its events, refused the same on every retry.
   */
  private async exchange(headers: Record<string, string>, body: string, signal: AbortSignal, batch: readonly BridgeEvent[]): Promise<Answer> {
    const exchange = new Exchange(this.config.timeout_ms);
    try {
      const answer = await this.dispatch(exchange, this.config.method, headers, body, signal);
      this.answered();
      return answer;
    } catch (err) {
      if (signal.aborted && !exchange.expired) throw err;
      if ((err as { code?: unknown }).code === UNDICI_INVALID_ARGUMENT) {
        throw new PermanentError(`webhook ${this.name}: the request cannot be built: ${errorMessage(err)}`, {
          cause: err,
          code: 'PGBRIDGE_WEBHOOK_INVALID_REQUEST',
          failedIds: batch.map((event) => event.id),
        });
      }
      this.reachable = false;
      const reason = exchange.expired ? `no answer within ${this.config.timeout_ms} ms` : errorMessage(err);
      throw new RetriableError(`webhook ${this.name}: ${reason}`, { cause: err, code: 'PGBRIDGE_WEBHOOK_NETWORK' });
    }
  }

  /** Sends one request for `exchange` and waits for its answer; aborted with `signal`. */
  private async dispatch(
    exchange: Exchange,
    method: 'HEAD' | 'POST' | 'PUT',
    headers: Record<string, string>,
    body: string | null,
    signal: AbortSignal,
  ): Promise<Answer> {
    if (signal.aborted) {
      exchange.finish();
      throw signal.reason;
    }
    const stop = this.abortOn(signal, exchange);
    this.agent.dispatch(
      { origin: this.origin, path: this.path, method, headers, body, headersTimeout: this.config.timeout_ms, bodyTimeout: this.config.timeout_ms },
      exchange,
    );
    try {
      return await exchange.answer;
    } finally {
      stop();
    }
  }

  /**
   * Aborts `exchange` when `signal` does. One listener per signal for all its
   * requests (the runner passes the same one every time), not one per request.
   */
  private abortOn(signal: AbortSignal, exchange: Exchange): () => void {
    let open = this.inFlight.get(signal);
    if (open === undefined) {
      const exchanges = new Set<Exchange>();
      open = exchanges;
      this.inFlight.set(signal, exchanges);
      signal.addEventListener('abort', () => exchanges.forEach((e) => e.abort(signal.reason as Error)), { once: true });
    }
    const set = open;
    set.add(exchange);
    return () => set.delete(exchange);
  }

  /** By now every exchange is answered or aborted: close() would still wait for queued ones to reach a socket (a black-holed host: its connect timeout). */
  async close(): Promise<void> {
    await this.agent.destroy().catch(() => {});
  }
}

export const createSink = (config: WebhookSinkConfig, ctx: SinkContext): SinkClient => new WebhookSink(config, ctx);

/** user:password in the URL becomes HTTP Basic authentication, as curl and browsers do. */
function splitCredentials(text: string): { url: string; authorization?: string } {
  const url = new URL(text);
  if (!url.username && !url.password) return { url: text };
  const credentials = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
  url.username = '';
  url.password = '';
  return { url: url.toString(), authorization: `Basic ${Buffer.from(credentials).toString('base64')}` };
}

/**
 * Redirects are not followed: re-POSTing a body elsewhere is what a changed
 * or mistyped url causes, so the operator is told where to point it instead.
 */
function redirectNote(statusCode: number, location: string | string[] | undefined): string {
  if (statusCode < 300 || statusCode >= 400) return '';
  const target = Array.isArray(location) ? location[0] : location;
  return target ? ` redirect to ${target} (not followed: set the sink url to it)` : ' redirect (not followed)';
}
