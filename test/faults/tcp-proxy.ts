/**
 * A TCP proxy (node:net) between pgbridge and a sink, for breaking the
 * network for real: `drop` resets every open connection and every new one,
 * `blackHole` accepts connections but forwards nothing in either direction
 * (a partition: bytes wait, unanswered), `restore` lets traffic flow again,
 * including what waited; `strand` leaves every open connection (or those it
 * picks by their first bytes) open and silent for good while new ones pass (a
 * NAT or firewall that forgot them). Protocol-agnostic (HTTP, AMQP, Kafka); a `rewrite`
 * hook per connection lets the Kafka proxy patch broker addresses.
 */
import net, { type AddressInfo } from 'node:net';

export type ProxyMode = 'pass' | 'drop' | 'black-hole';

/** Transforms one direction of one connection; returns what to forward (possibly nothing yet). */
export type Rewrite = (chunk: Buffer) => Buffer;

export interface ConnectionRewrites {
  readonly toServer?: Rewrite;
  readonly toClient?: Rewrite;
}

export interface ProxyOptions {
  /** Called per accepted connection, so rewrites can keep per-connection state. */
  readonly rewrites?: () => ConnectionRewrites;
}

interface Link {
  readonly client: net.Socket;
  upstream: net.Socket | undefined;
  /** The client's first bytes (a Postgres startup message names the connection's kind). */
  hello?: Buffer;
}

export class TcpProxy {
  private modeNow: ProxyMode = 'pass';
  private stopped = false;
  private readonly links = new Set<Link>();
  private readonly stranded = new Set<Link>();
  private readonly server = net.createServer((socket) => this.accept(socket));
  /** Connections accepted over the proxy's life, for tests that check traffic really went through it. */
  accepted = 0;

  constructor(
    readonly targetHost: string,
    readonly targetPort: number,
    private readonly options: ProxyOptions = {},
  ) {}

  /** Listens on 127.0.0.1 (port 0: any free port) and resolves with the port. */
  async start(port = 0): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', resolve);
    });
    return this.port;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  get mode(): ProxyMode {
    return this.modeNow;
  }

  /** Resets (RST) every open connection; new ones are reset as soon as they are accepted. */
  drop(): void {
    this.modeNow = 'drop';
    for (const link of this.links) this.cut(link);
  }

  /** Accepts, holds and never answers: open connections stall, new ones hang after the TCP handshake. */
  blackHole(): void {
    this.modeNow = 'black-hole';
    for (const link of this.links) {
      link.client.pause();
      link.upstream?.pause();
    }
  }

  /**
   * Open connections (those whose first bytes `which` picks: all unless given) never forward another byte,
   * nor a close (the server keeps its end), until the proxy stops; new ones pass. `toClientOnly`: the
   * client's bytes still reach the server (which so keeps hearing it), none come back.
   */
  strand(which: (hello: Buffer) => boolean = () => true, toClientOnly = false): void {
    for (const link of this.links) {
      if (!which(link.hello ?? Buffer.alloc(0))) continue;
      for (const socket of [link.client, link.upstream]) {
        socket?.removeAllListeners('close');
        if (toClientOnly && socket === link.client) continue;
        socket?.removeAllListeners('data');
        socket?.pause();
      }
      this.links.delete(link);
      this.stranded.add(link);
    }
    this.modeNow = 'pass';
  }

  /** Traffic flows again; connections that stalled in the black hole go on where they stopped. */
  restore(): void {
    this.modeNow = 'pass';
    for (const link of this.links) {
      if (link.upstream === undefined) this.connectUpstream(link);
      else {
        link.client.resume();
        link.upstream.resume();
      }
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const link of [...this.links, ...this.stranded]) this.cut(link);
    await closed;
  }

  private accept(client: net.Socket): void {
    this.accepted++;
    client.on('error', () => {});
    if (this.modeNow === 'drop' || this.stopped) return void abort(client, this.stopped);
    const link: Link = { client, upstream: undefined };
    this.links.add(link);
    client.on('close', () => this.cut(link));
    if (this.modeNow === 'black-hole') client.pause();
    else this.connectUpstream(link);
  }

  private connectUpstream(link: Link): void {
    if (this.stopped) return;
    const upstream = net.connect(this.targetPort, this.targetHost);
    link.upstream = upstream;
    upstream.on('error', () => {});
    upstream.on('close', () => this.cut(link));
    link.client.once('data', (chunk: Buffer) => (link.hello = Buffer.from(chunk)));
    const rewrites = this.options.rewrites?.() ?? {};
    this.pump(link.client, upstream, rewrites.toServer);
    this.pump(upstream, link.client, rewrites.toClient);
    link.client.resume();
  }

  /** Forwards `from` to `to` with backpressure; a paused (black-holed) side stays paused across drains. */
  private pump(from: net.Socket, to: net.Socket, rewrite: Rewrite | undefined): void {
    from.on('data', (chunk: Buffer) => {
      const out = rewrite ? rewrite(chunk) : chunk;
      if (out.length === 0 || to.write(out)) return;
      from.pause();
      to.once('drain', () => {
        if (this.modeNow === 'pass') from.resume();
      });
    });
  }

  private cut(link: Link): void {
    if (!this.links.delete(link) && !this.stranded.delete(link)) return;
    abort(link.client, this.stopped);
    if (link.upstream) abort(link.upstream, this.stopped);
  }
}

/**
 * Resets the connection (RST), as a network failure would. Not with writes
 * still queued, nor when the proxy stops: libuv can then leave the handle
 * unclosed, and Node spins at 100% CPU at exit waiting for it.
 */
function abort(socket: net.Socket, stopping: boolean): void {
  if (socket.destroyed) return;
  if (stopping || socket.writableLength > 0 || socket.pending) socket.destroy();
  else socket.resetAndDestroy();
}
