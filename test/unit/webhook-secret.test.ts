import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { secretProblem } from '../../src/sinks/webhook/secret.js';
import { signWebhook } from '../../src/sinks/webhook/signature.js';

/** Not Standard Webhooks secrets: Buffer.from(…, 'base64') would have skipped what it cannot read and signed with the rest. */
const NOT_SECRETS: ReadonlyArray<[string, string]> = [
  ['whsec_!!!', 'no base64 at all (an empty key)'],
  ['TopSecretG', 'a passphrase: base64 letters, but not a multiple of 4'],
  ['whsec_c2VjcmV0LWtleQ', 'padding left out'],
  ['whsec_c2VjcmV0LWtleQ=', 'padding cut short'],
  ['whsec_c2VjcmV0-LWtleQ==', 'a character of the URL-safe alphabet'],
  ['whsec_c2VjcmV0 LWtleQ==', 'a space'],
  ['whsec_c2Vj=cmV0', 'padding in the middle'],
  ['whsec_', 'the prefix alone'],
];

describe('webhook secret: whsec_ and the key in strict base64', () => {
  test('the Standard Webhooks test vector signs as the reference libraries do', () => {
    const signature = signWebhook(['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'], 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, '{"test": 2432232314}');
    assert.equal(signature, 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
  });

  test('a key in base64, with or without the prefix, padded or a multiple of 3 bytes', () => {
    for (const secret of ['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'whsec_c2VjcmV0LWtleQ==', 'whsec_a+b/']) {
      assert.equal(secretProblem(secret), undefined, secret);
    }
  });

  for (const [secret, why] of NOT_SECRETS) {
    test(`refused, never quoted, never signed with: ${why}`, () => {
      const problem = secretProblem(secret);
      assert.ok(problem !== undefined, 'refused');
      if (secret !== 'whsec_') assert.ok(!problem.includes(secret), `quotes the secret: ${problem}`);
      assert.throws(() => signWebhook([secret], 'id', 1, 'body'), /webhook secret/);
    });
  }
});
