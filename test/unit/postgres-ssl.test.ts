import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parse } from 'pg-connection-string';
import { libpqUrl, sslFromEnvironment, sslModeProblem } from '../../src/postgres-ssl.js';

const base = 'postgres://u:p@db.example.com:5432/app';
const sslOf = (url: string): unknown => parse(libpqUrl(url)).ssl;

test('sslmode in a URL means what it means to libpq: require and prefer encrypt without checking the certificate', () => {
  assert.equal(libpqUrl(base), base, 'no sslmode: the URL as it is');
  assert.deepEqual(sslOf(`${base}?sslmode=require`), { rejectUnauthorized: false });
  assert.deepEqual(sslOf(`${base}?sslmode=prefer`), { rejectUnauthorized: false });
  assert.equal(sslOf(`${base}?sslmode=disable`), false);
  assert.equal(sslOf(`${base}?sslmode=allow`), false);
  assert.deepEqual(sslOf(`${base}?sslmode=verify-full`), {});
  assert.deepEqual(sslOf(`${base}?sslmode=no-verify`), { rejectUnauthorized: false });
  assert.equal(
    libpqUrl(`${base}?sslmode=require&uselibpqcompat=false`),
    `${base}?sslmode=require&uselibpqcompat=false`,
    "the user's own choice stands",
  );
});

test('PGSSLMODE without a URL, the same way', () => {
  assert.equal(sslFromEnvironment({}), undefined);
  assert.equal(sslFromEnvironment({ PGSSLMODE: 'disable' }), false);
  assert.deepEqual(sslFromEnvironment({ PGSSLMODE: 'require' }), { rejectUnauthorized: false });
  assert.deepEqual(sslFromEnvironment({ PGSSLMODE: 'prefer' }), { rejectUnauthorized: false });
  assert.deepEqual(sslFromEnvironment({ PGSSLMODE: 'verify-full' }), {});
  const verifyCa = sslFromEnvironment({ PGSSLMODE: 'verify-ca' }) as { checkServerIdentity?: unknown };
  assert.equal(typeof verifyCa.checkServerIdentity, 'function', 'verify-ca: the chain, not the host name');
});

test('an sslmode libpq does not know is named', () => {
  assert.equal(sslModeProblem('require'), undefined);
  assert.match(sslModeProblem('bogus')!, /^sslmode "bogus" is not one of disable, allow, prefer, require, verify-ca, verify-full, no-verify$/);
});
