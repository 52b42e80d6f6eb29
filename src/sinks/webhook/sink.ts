import { Agent, request } from 'undici';
import type { BridgeEvent } from '../../event.js';
import { errorMessage, PermanentError, RetriableError } from '../../errors.js';
import type { SinkClient, SinkContext } from '../sink.js';
import type { WebhookSinkConfig } from './config.js';
import { deadline, type Deadline } from './deadline.js';
import { buildRequest } from './request.js';
import { parseRetryAfter } from './retry-after.js';
import { signWebhook } from './signature.js';

const USER_AGENT = 'pgbridge';

/** POSTs events to one URL. 2xx is success; 408, 429, 5xx and network errors are retriable; the rest is permanent. */
export class WebhookSink implements SinkClient {
  private readonly agent: Agent;
  private readonly secrets: readonly string[];
  /** The URL without user:password, which undici would silently drop. */
  private readonly url: string;
  private readonly headers: Record<string, string>;
  private reachable = true;

  constructor(
    private readonly config: WebhookSinkConfig,
    private readonly ctx: SinkContext,
  ) {
    this.secrets = config.secret === null ? [] : Array.isArray(config.secret) ? config.secret : [config.secret];
    const { url, authorization } = splitCredentials(config.url);
    this.url = url;
    const hasAuthorization = Object.keys(config.headers).some((name) => name.toLowerCase() === 'authorization');
    this.headers = { 'user-agent': USER_AGENT, ...(authorization && !hasAuthorization ? { authorization } : {}), ...config.headers };
    this.agent = new Agent({ connections: config.max_in_flight, keepAliveTimeout: 30_000, connect: { timeout: config.timeout_ms } });
  }

  private get name(): string {
    return this.config.name;
  }

  /** Reachability probe: any HTTP answer to a HEAD request will do. */
  async connect(signal: AbortSignal): Promise<void> {
    try {
      const response = await request(this.url, {
        method: 'HEAD',
        dispatcher: this.agent,
        signal: AbortSignal.any([signal, AbortSignal.timeout(this.config.timeout_ms)]),
        headers: this.headers,
      });
      await response.body.dump().catch(() => {});
      this.reachable = true;
    } catch (err) {
      throw new RetriableError(`webhook ${this.name}: cannot reach ${new URL(this.url).host}: ${errorMessage(err)}`, { cause: err });
    }
  }

  isReady(): boolean {
    return this.reachable;
  }

  async send(batch: readonly BridgeEvent[], signal: AbortSignal): Promise<void> {
    const req = buildRequest(batch, this.config, this.ctx.format);
    const headers: Record<string, string> = { ...this.headers, ...req.headers };
    if (this.secrets.length > 0) {
      const timestamp = Math.floor(Date.now() / 1000);
      headers['webhook-id'] = req.messageId;
      headers['webhook-timestamp'] = String(timestamp);
      headers['webhook-signature'] = signWebhook(this.secrets, req.messageId, timestamp, req.body);
    }
    const timeout = deadline(signal, this.config.timeout_ms);
    try {
      await this.post(batch, headers, req.body, timeout);
    } finally {
      timeout.done();
    }
  }

  /** One request for `batch`; a refusal names the batch's ids. */
  private async post(batch: readonly BridgeEvent[], headers: Record<string, string>, body: string, timeout: Deadline): Promise<void> {
    let response;
    try {
      response = await request(this.url, {
        method: this.config.method,
        headers,
        body,
        dispatcher: this.agent,
        signal: timeout.signal,
        headersTimeout: this.config.timeout_ms,
        bodyTimeout: this.config.timeout_ms,
      });
    } catch (err) {
      if (timeout.signal.aborted && !timeout.expired) throw err;
      this.reachable = false;
      const reason = timeout.expired ? `no answer within ${this.config.timeout_ms} ms` : errorMessage(err);
      throw new RetriableError(`webhook ${this.name}: ${reason}`, { cause: err, code: 'PGBRIDGE_WEBHOOK_NETWORK' });
    }
    this.reachable = true;
    const { statusCode } = response;
    if (statusCode >= 200 && statusCode < 300) {
      await response.body.dump().catch(() => {});
      return;
    }
    const text = (await response.body.text().catch(() => '')).slice(0, 200);
    const detail = `webhook ${this.name}: HTTP ${statusCode}${redirectNote(statusCode, response.headers.location)}${text ? `: ${text}` : ''}`;
    if (statusCode === 408 || statusCode === 429 || statusCode >= 500) {
      throw new RetriableError(detail, { retryAfterMs: parseRetryAfter(response.headers['retry-after']), code: `PGBRIDGE_HTTP_${statusCode}` });
    }
    throw new PermanentError(detail, { code: `PGBRIDGE_HTTP_${statusCode}`, failedIds: batch.map((event) => event.id) });
  }

  async close(): Promise<void> {
    await this.agent.close().catch(() => {});
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
