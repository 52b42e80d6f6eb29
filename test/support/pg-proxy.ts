import { TcpProxy } from '../faults/tcp-proxy.js';
import type { TestDatabase } from './pg.js';

/** A TCP proxy in front of the test database's server, and the database's URL through it: to cut Postgres for real. */
export async function proxiedDatabase(db: TestDatabase): Promise<{ proxy: TcpProxy; url: string }> {
  const server = new URL(db.url);
  const proxy = new TcpProxy(server.hostname, Number(server.port || 5432));
  const proxied = new URL(db.url);
  proxied.port = String(await proxy.start());
  return { proxy, url: proxied.toString() };
}
