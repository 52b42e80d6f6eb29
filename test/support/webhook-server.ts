/**
 * The far end of the webhook sink for every test: a real HTTP server on port
 * 0 (or a given port, so that a refused port can come back) that records
 * every POST, answers as the test says (default 204) and tallies the events
 * of 2xx answers. Other methods (the sink's reachability probe) get 200.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestContext } from 'node:test';
import { Tally } from './event-tally.js';

export interface ReceivedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
  /** Names and values as they came, alternating, in order: duplicates and the sender's spelling kept (Node merges or drops them in `headers`). */
  readonly rawHeaders: readonly string[];
  readonly body: string;
}

/**
 * What to answer a POST: a status (with headers and body, after `delayMs`),
 * never (`hang`), or a dropped connection (`reset`). A late 2xx still counts
 * as accepted: the far end processed the event even if the sender stopped waiting.
 */
export type Reply = { status: number; headers?: Record<string, string>; body?: string; delayMs?: number } | 'hang' | 'reset';

const is2xx = (reply: Reply | undefined): boolean => typeof reply === 'object' && reply.status >= 200 && reply.status < 300;

/** One POST body as events: a JSON array is a batch. */
const eventsOf = (body: string): unknown[] => {
  const parsed = JSON.parse(body) as unknown;
  return Array.isArray(parsed) ? parsed : [parsed];
};

export class WebhookServer {
  readonly requests: ReceivedRequest[] = [];
  /** The reply each request got, by its index in `requests`. */
  readonly replies: Reply[] = [];
  /** The events of every 2xx answer, counted when the answer is given. */
  readonly tally = new Tally();
  url = '';
  /** Decides the reply to each request; replace it in a test. */
  reply: (req: ReceivedRequest, index: number) => Reply = () => ({ status: 204 });
  private readonly answered = new Set<number>();
  private readonly server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method !== 'POST') return void res.writeHead(200).end(); // reachability probes
      const received = {
        method: req.method,
        url: req.url ?? '',
        headers: req.headers,
        rawHeaders: req.rawHeaders,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      const index = this.requests.push(received) - 1;
      const reply = this.reply(received, index);
      this.replies[index] = reply;
      if (reply === 'hang') return;
      if (reply === 'reset') return void req.socket.destroy();
      const answer = (): void => {
        this.answered.add(index);
        if (is2xx(reply)) this.tally.add(eventsOf(received.body));
        if (!res.destroyed) res.writeHead(reply.status, reply.headers).end(reply.body ?? '');
      };
      if (reply.delayMs) setTimeout(answer, reply.delayMs);
      else answer();
    });
  });

  async start(port = 0): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', resolve);
    });
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
    return this.url;
  }

  /** Requests answered 2xx so far, in arrival order. */
  accepted(): ReceivedRequest[] {
    return this.requests.filter((_, i) => this.answered.has(i) && is2xx(this.replies[i]));
  }

  /** Events of the requests answered 2xx, parsed (batches flattened). */
  delivered(): unknown[] {
    return this.accepted().flatMap((r) => eventsOf(r.body));
  }

  /** Event ids of every POST (answered or not), in arrival order. */
  attemptedIds(): string[] {
    return this.requests.flatMap((r) => eventsOf(r.body).map((e) => (e as { id: string }).id));
  }

  async stop(): Promise<void> {
    if (!this.server.listening) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** A started WebhookServer that the test stops when it ends. */
export async function startedWebhook(t: TestContext): Promise<WebhookServer> {
  const hook = new WebhookServer();
  await hook.start();
  t.after(() => hook.stop());
  return hook;
}
