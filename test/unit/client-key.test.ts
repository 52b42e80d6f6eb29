import assert from 'node:assert/strict';
import { test } from 'node:test';
import { clientKey } from '../../src/console/client-key.js';

test('clientKey: an IPv4 address (mapped or not) as it is, an IPv6 address by its /64, however it is written', () => {
  assert.equal(clientKey('192.0.2.7'), '192.0.2.7');
  assert.equal(clientKey('::ffff:192.0.2.7'), '192.0.2.7');
  assert.equal(clientKey('2001:db8:0:12::1'), '2001:db8:0:12::/64');
  assert.equal(clientKey('2001:DB8:0000:0012:ffff:1:2:3'), '2001:db8:0:12::/64');
  assert.equal(clientKey('2001:db8::1'), '2001:db8:0:0::/64');
  assert.equal(clientKey('fe80::1%eth0'), 'fe80:0:0:0::/64');
  assert.equal(clientKey('::1'), '0:0:0:0::/64');
  assert.equal(clientKey(undefined), 'unknown');
});
