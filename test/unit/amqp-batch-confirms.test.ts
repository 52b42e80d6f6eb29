import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BatchConfirms } from '../../src/sinks/amqp/batch-confirms.js';

/** Whether `promise` has settled by the time pending callbacks ran. */
async function settledYet(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  void promise.then(() => (settled = true));
  await new Promise((resolve) => setImmediate(resolve));
  return settled;
}

describe('BatchConfirms', () => {
  test('resolves only once every published message was confirmed, and only after seal()', async () => {
    const confirms = new BatchConfirms();
    for (let i = 0; i < 3; i++) confirms.published();
    confirms.confirm(null);
    confirms.confirm(null);
    const all = confirms.seal();
    assert.equal(await settledYet(all), false, 'one confirm still outstanding');
    confirms.confirm(null);
    assert.equal(await all, undefined);
  });

  test('confirms that all came back before seal() resolve it at once; an empty batch too', async () => {
    const confirms = new BatchConfirms();
    confirms.published();
    confirms.confirm(null);
    assert.equal(await confirms.seal(), undefined);
    assert.equal(await new BatchConfirms().seal(), undefined);
  });

  test('waits for every confirm after a nack and yields the first failure', async () => {
    const confirms = new BatchConfirms();
    for (let i = 0; i < 3; i++) confirms.published();
    const all = confirms.seal();
    confirms.confirm(new Error('message nacked'));
    confirms.confirm(new Error('channel closed'));
    assert.equal(await settledYet(all), false);
    confirms.confirm(null);
    assert.equal((await all)?.message, 'message nacked');
  });

  test('a failure that is not an Error becomes one', async () => {
    const confirms = new BatchConfirms();
    confirms.published();
    confirms.confirm('refused');
    assert.equal((await confirms.seal())?.message, 'refused');
  });
});
