import assert from 'node:assert/strict';
import { createServer, connect as tcpConnect, type Socket } from 'node:net';

/** A loopback port nothing listens on (until someone takes it). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  assert.ok(address !== null && typeof address === 'object');
  await new Promise((resolve) => server.close(resolve));
  return address.port;
}

export interface Forwarder {
  /** Client connections open now, and accepted so far. */
  readonly open: number;
  readonly accepted: number;
  close(): void;
}

/** Listens on `port` and pipes every connection to `target` (host:port); close() also cuts open connections. */
export async function forward(port: number, target: string): Promise<Forwarder> {
  const colon = target.lastIndexOf(':');
  const sockets = new Set<Socket>();
  const clients = new Set<Socket>();
  let accepted = 0;
  const server = createServer((client) => {
    accepted++;
    clients.add(client);
    client.on('close', () => clients.delete(client));
    const upstream = tcpConnect(Number(target.slice(colon + 1)), target.slice(0, colon));
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => sockets.delete(socket));
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    get open() {
      return clients.size;
    },
    get accepted() {
      return accepted;
    },
    close() {
      server.close();
      sockets.forEach((socket) => socket.destroy());
    },
  };
}
