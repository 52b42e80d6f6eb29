import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Metrics } from '../../src/metrics.js';

describe('Metrics.keepSinks', () => {
  test("a sink the new config lacks loses its gauges, and its queue's reader", async () => {
    const metrics = new Metrics('test');
    metrics.watchSink('kept', () => 1);
    metrics.watchSink('gone', () => 2);
    metrics.sinkFailing.set({ sink: 'gone' }, 1);
    metrics.oldestPending.set({ sink: 'gone' }, 7);
    metrics.keepSinks(['kept']);
    const text = await metrics.registry.metrics();
    assert.doesNotMatch(text, /pgbridge_sink_(failing|queue_events)\{sink="gone"\}/);
    assert.doesNotMatch(text, /pgbridge_oldest_pending_seconds\{sink="gone"\}/);
    assert.match(text, /pgbridge_sink_queue_events\{sink="kept"\} 1/);
    assert.match(text, /pgbridge_deliveries_total\{sink="gone",outcome="delivered"\} 0/, 'counts stay');
  });
});
