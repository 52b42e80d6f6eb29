import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

/** What to answer; the default is 204. `hang` never answers (a timeout); `reset` destroys the socket. */
export type Reply = { status: number; headers?: Record<string, string>; body?: string } | 'hang' | 'reset';

/** A real HTTP server on port 0 that records every request (also the failed ones) and answers as told. */
export class WebhookServer {
  readonly requests: ReceivedRequest[] = [];
  /** The reply each request got, by its index in `requests`. */
  readonly replies: Reply[] = [];
  /** Decides the reply to each request; replace it in a test. */
  reply: (req: ReceivedRequest, index: number) => Reply = () => ({ status: 204 });
  private readonly server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const received = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      if (received.method !== 'POST') return void res.writeHead(200).end(); // reachability probes
      const index = this.requests.push(received) - 1;
      const reply = this.reply(received, index);
      this.replies[index] = reply;
      if (reply === 'hang') return;
      if (reply === 'reset') return req.socket.destroy();
      res.writeHead(reply.status, reply.headers).end(reply.body ?? '');
    });
  });

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
  }

  /** Requests answered 2xx, in arrival order. */
  accepted(): ReceivedRequest[] {
    return this.requests.filter((_, i) => {
      const reply = this.replies[i];
      return typeof reply !== 'string' && reply.status >= 200 && reply.status < 300;
    });
  }

  /** Bodies of requests answered 2xx, as parsed JSON (events, or arrays of events flattened). */
  delivered(): unknown[] {
    return this.requests.flatMap((r, i) => {
      const reply = this.reply(r, i);
      if (typeof reply === 'string' || reply.status < 200 || reply.status >= 300) return [];
      const parsed = JSON.parse(r.body) as unknown;
      return Array.isArray(parsed) ? parsed : [parsed];
    });
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
