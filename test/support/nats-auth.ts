/**
 * Credentials for private nats-servers: an operator, an account with
 * JetStream and a user as a .creds file (what nsc makes), and a CA with a
 * server certificate for 127.0.0.1 (openssl).
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { createAccount, createOperator, createUser, encodeAccount, encodeOperator, encodeUser, fmtCreds } from '@nats-io/jwt';

export interface OperatorSetup {
  /** Server configuration trusting the operator, with the account preloaded. */
  readonly serverConfig: string;
  /** A .creds file's text for a user of the account. */
  readonly creds: string;
  /** A .creds file's text for a user of an account the server does not know. */
  readonly strangerCreds: string;
  /** The JWT and seed lines of `creds`, which must never be printed. */
  readonly secretLines: readonly string[];
}

export async function operatorSetup(): Promise<OperatorSetup> {
  const operator = createOperator();
  const account = createAccount();
  const user = createUser();
  const system = createAccount();
  // JetStream in operator mode needs a system account.
  const operatorJwt = await encodeOperator('pgbridge-test', operator, { system_account: system.getPublicKey() });
  const systemJwt = await encodeAccount('SYS', system, {}, { signer: operator });
  // Limits given replace the defaults as a whole: unlimited, JetStream included.
  const limits = {
    subs: -1,
    conn: -1,
    leaf: -1,
    imports: -1,
    exports: -1,
    data: -1,
    payload: -1,
    wildcards: true,
    mem_storage: -1,
    disk_storage: -1,
    streams: -1,
    consumer: -1,
  };
  const accountJwt = await encodeAccount('bridge', account, { limits: limits }, { signer: operator });
  const userJwt = await encodeUser('bridge-user', user, account);
  const stranger = createUser();
  const strangerJwt = await encodeUser('stranger', stranger, createAccount());
  const creds = new TextDecoder().decode(fmtCreds(userJwt, user));
  return {
    serverConfig:
      `operator: ${operatorJwt}\nsystem_account: ${system.getPublicKey()}\nresolver: MEMORY\n` +
      `resolver_preload: { ${account.getPublicKey()}: ${accountJwt}, ${system.getPublicKey()}: ${systemJwt} }\n`,
    creds,
    strangerCreds: new TextDecoder().decode(fmtCreds(strangerJwt, stranger)),
    secretLines: [userJwt, new TextDecoder().decode(user.getSeed())],
  };
}

export interface TlsFiles {
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
}

/**
 * A CA and a server certificate signed by it, written into `dir`. For
 * localhost too: the NATS client checks a server given by IP address against
 * the name "localhost".
 */
export function makeTlsFiles(dir: string): TlsFiles {
  const file = (name: string): string => path.join(dir, name);
  const openssl = (...args: string[]): void => void execFileSync('openssl', args, { stdio: 'ignore' });
  openssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '2',
    '-subj',
    '/CN=pgbridge test CA',
    '-keyout',
    file('ca.key'),
    '-out',
    file('ca.pem'),
  );
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', file('server.key'), '-out', file('server.csr'));
  const ext = file('san.ext');
  execFileSync('sh', ['-c', `printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > '${ext}'`]);
  openssl(
    'x509',
    '-req',
    '-in',
    file('server.csr'),
    '-CA',
    file('ca.pem'),
    '-CAkey',
    file('ca.key'),
    '-CAcreateserial',
    '-days',
    '2',
    '-extfile',
    ext,
    '-out',
    file('server.pem'),
  );
  return { caFile: file('ca.pem'), certFile: file('server.pem'), keyFile: file('server.key') };
}

/** Server configuration requiring TLS with `files`. */
export function tlsServerConfig(files: TlsFiles): string {
  return `tls { cert_file: "${files.certFile}", key_file: "${files.keyFile}" }\n`;
}
