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

/** Listens on `port` and pipes every connection to `target` (host:port); close() also cuts open connections. */
export async function forward(port: number, target: string): Promise<{ close(): void }> {
  const colon = target.lastIndexOf(':');
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
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
    close() {
      server.close();
      sockets.forEach((socket) => socket.destroy());
    },
  };
}
