import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from './tcp.js';
import { waitFor } from './bridge.js';
import net from 'node:net';

/** Debian's PgBouncer binary; scripts/install-test-tools.sh installs the package. */
const PGBOUNCER = '/usr/sbin/pgbouncer';

/**
 * A real PgBouncer of the test's own, on a free port, in front of the local
 * Postgres: database `session` is pooled in session mode, `transaction` in
 * transaction mode, both on `database`. PgBouncer refuses to run as root, so
 * as root it switches to the postgres user (-u).
 */
export class PgBouncer {
  private constructor(
    readonly port: number,
    private readonly child: ChildProcess,
    private readonly dir: string,
    readonly log: () => string,
  ) {}

  static async start(database: string): Promise<PgBouncer> {
    const dir = mkdtempSync(path.join(tmpdir(), 'pgbridge-pgbouncer-'));
    chmodSync(dir, 0o777);
    const port = await freePort();
    const target = `host=127.0.0.1 port=5432 dbname=${database} user=postgres`;
    writeFileSync(path.join(dir, 'userlist.txt'), '"postgres" ""\n');
    writeFileSync(
      path.join(dir, 'pgbouncer.ini'),
      [
        '[databases]',
        `session = ${target} pool_mode=session`,
        `transaction = ${target} pool_mode=transaction`,
        '[pgbouncer]',
        'listen_addr = 127.0.0.1',
        `listen_port = ${port}`,
        'unix_socket_dir =',
        'auth_type = trust',
        `auth_file = ${path.join(dir, 'userlist.txt')}`,
        'default_pool_size = 10',
        'max_client_conn = 100',
        'ignore_startup_parameters = extra_float_digits,application_name',
        `logfile = ${path.join(dir, 'pgbouncer.log')}`,
        '',
      ].join('\n'),
    );
    for (const f of ['userlist.txt', 'pgbouncer.ini']) chmodSync(path.join(dir, f), 0o644);
    const asRoot = process.getuid?.() === 0;
    let output = '';
    const child = spawn(PGBOUNCER, [...(asRoot ? ['-u', 'postgres'] : []), path.join(dir, 'pgbouncer.ini')], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const bouncer = new PgBouncer(port, child, dir, () => output);
    await waitFor(() => canConnect(port), 15_000, `PgBouncer on port ${port} (${output})`);
    return bouncer;
  }

  url(pool: 'session' | 'transaction'): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${pool}`;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null) {
      const exited = new Promise((r) => this.child.once('exit', r));
      this.child.kill('SIGTERM');
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
