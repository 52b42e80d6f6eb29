/**
 * A PostgreSQL cluster of a test's own (initdb in a temp dir, its own port),
 * for settings the shared server must keep (wal_level). Run as the postgres
 * user when the tests run as root: initdb refuses root.
 */
import { execFile } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const BIN = '/usr/lib/postgresql/15/bin';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export class PrivatePostgres {
  private constructor(
    private readonly dir: string,
    readonly port: number,
    private readonly exec: (bin: string, args: string[]) => Promise<unknown>,
  ) {}

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  /** initdb (trust auth, user postgres) and start with `settings` (`-c name=value` each). */
  static async start(settings: Record<string, string>): Promise<PrivatePostgres> {
    const dir = mkdtempSync(path.join(tmpdir(), 'pgbridge-private-pg-'));
    const asPostgres = userInfo().uid === 0;
    if (asPostgres) {
      const { stdout } = await run('id', ['-u', 'postgres']);
      const { stdout: gid } = await run('id', ['-g', 'postgres']);
      chownSync(dir, Number(stdout), Number(gid));
    }
    const exec = (bin: string, args: string[]) =>
      asPostgres
        ? run('runuser', ['-u', 'postgres', '--', path.join(BIN, bin), ...args], { timeout: 120_000 })
        : run(path.join(BIN, bin), args, { timeout: 120_000 });
    const port = await freePort();
    const data = path.join(dir, 'data');
    await exec('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync']);
    const options = [
      `-p ${port}`,
      `-k ${dir}`,
      '-c listen_addresses=127.0.0.1',
      '-c fsync=off',
      ...Object.entries(settings).map(([k, v]) => `-c ${k}=${v}`),
    ];
    await exec('pg_ctl', ['-D', data, '-w', '-l', path.join(dir, 'log'), '-o', options.join(' '), 'start']);
    return new PrivatePostgres(dir, port, exec);
  }

  async stop(): Promise<void> {
    await this.exec('pg_ctl', ['-D', path.join(this.dir, 'data'), '-m', 'immediate', 'stop']).catch(() => {});
    rmSync(this.dir, { recursive: true, force: true });
  }
}
