import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';

/**
 * libpq's sslmode, as in a postgres:// URL or PGSSLMODE. pg reads `require`,
 * `prefer` and `verify-ca` as `verify-full` (a certificate the system CAs do
 * not sign fails, as most managed databases' do) and warns on stderr in a line
 * that is not JSON; with `uselibpqcompat` it follows libpq. It cannot fall
 * back from TLS to plain text, so `prefer` asks for TLS (what libpq gets from
 * a server that has it) and `allow` for plain text.
 */
export const SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full', 'no-verify'] as const;
export type SslMode = (typeof SSL_MODES)[number];

/** Why `mode` is not an sslmode, or undefined. */
export function sslModeProblem(mode: string): string | undefined {
  if ((SSL_MODES as readonly string[]).includes(mode)) return undefined;
  return `sslmode ${JSON.stringify(mode)} is not one of ${SSL_MODES.join(', ')}`;
}

/** The URL as pg should read it: libpq's meaning of its sslmode. */
export function libpqUrl(url: string): string {
  const parsed = new URL(url);
  const mode = parsed.searchParams.get('sslmode');
  if (mode === null || parsed.searchParams.has('uselibpqcompat')) return url;
  if (mode === 'allow') parsed.searchParams.set('sslmode', 'disable');
  else if (mode !== 'no-verify') parsed.searchParams.set('uselibpqcompat', 'true');
  return parsed.toString();
}

/** `ssl` for pg from PGSSLMODE (with PGSSLROOTCERT), when there is no URL; undefined: pg's own default (plain text). */
export function sslFromEnvironment(env: NodeJS.ProcessEnv): boolean | ConnectionOptions | undefined {
  const mode = env.PGSSLMODE as SslMode | undefined;
  const ca = env.PGSSLROOTCERT ? readFileSync(env.PGSSLROOTCERT, 'utf8') : undefined;
  switch (mode) {
    case undefined:
      return undefined;
    case 'disable':
    case 'allow':
      return false;
    case 'prefer':
    case 'require':
    case 'no-verify':
      // libpq's require with a root certificate checks the chain, not the host name (verify-ca).
      return ca === undefined || mode === 'no-verify' ? { rejectUnauthorized: false } : { ca, checkServerIdentity: () => undefined };
    case 'verify-ca':
      return { ca, checkServerIdentity: () => undefined };
    case 'verify-full':
      return ca === undefined ? {} : { ca };
  }
}
