import assert from 'node:assert/strict';
import { test } from 'node:test';
import client from 'prom-client';
import { CountedHistogram } from '../../src/counted-histogram.js';

const config = (registry: client.Registry) => ({
  name: 'lag_seconds',
  help: 'Lag.',
  labelNames: ['sink'] as const,
  buckets: [0.005, 0.1, 1, 60],
  registers: [registry],
});

/** The same observations into prom-client's Histogram (one by one) and a CountedHistogram (in runs). */
function both(runs: ReadonlyArray<[sink: string, value: number, times: number]>) {
  const theirs = new client.Registry();
  const ours = new client.Registry();
  const histogram = new client.Histogram(config(theirs));
  const counted = new CountedHistogram(config(ours));
  for (const [sink, value, times] of runs) {
    for (let i = 0; i < times; i++) histogram.observe({ sink }, value);
    counted.observe({ sink }, value, times);
  }
  return { theirs, ours, histogram, counted };
}

const RUNS: ReadonlyArray<[string, number, number]> = [
  ['a', 0.004, 3],
  ['b', 0.5, 1],
  ['a', 0.005, 2],
  ['a', 30, 500],
  ['b', 120, 4],
  ['a', 0, 1],
];

test('a CountedHistogram exports what prom-client exports after the same observations, text and JSON', async () => {
  const { theirs, ours } = both(RUNS);
  assert.equal(await ours.metrics(), await theirs.metrics());
  assert.deepEqual(await ours.getMetricsAsJSON(), await theirs.getMetricsAsJSON());
});

test('get() gives each value its series labels with the bucket bound, as Histogram.get() does', async () => {
  const { histogram, counted } = both(RUNS);
  assert.deepEqual((await counted.get()).values, (await histogram.get()).values);
});

test('reset empties it, as a registry reset does to the others', async () => {
  const { ours, theirs } = both(RUNS);
  ours.resetMetrics();
  theirs.resetMetrics();
  assert.equal(await ours.metrics(), await theirs.metrics());
});

test('a value that is not a number is refused', () => {
  const { counted } = both([]);
  assert.throws(() => counted.observe({ sink: 'a' }, Number.NaN, 2), TypeError);
});
