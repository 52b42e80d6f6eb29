import assert from 'node:assert/strict';
import { test } from 'node:test';
import { filterCovers, filtersOverlap, streamSubjects, streamSubjectsProblem, uncoveredFilters } from '../../src/sinks/nats/stream-subjects.js';

test('filterCovers: every subject the second filter matches, the first matches too', () => {
  const cases: [string, string, boolean][] = [
    // The audit's case: x.*.* takes every x.ch.<channel>.
    ['x.*.*', 'x.ch.*', true],
    ['x.ch.*', 'x.*.*', false],
    ['x.*.*', 'x.*.*', true],
    ['x.a.b', 'x.a.b', true],
    ['x.*', 'x.a', true],
    ['x.a', 'x.*', false],
    ['x.*.*', 'x.*', false],
    ['x.*', 'x.*.*', false],
    ['x.>', 'x.a', true],
    ['x.>', 'x.*.*.*', true],
    ['x.>', 'x.a.>', true],
    ['x.>', 'x', false],
    ['x.>', 'y.a', false],
    ['>', 'x.*.*', true],
    ['x.*', 'x.>', false],
    ['x.*.>', 'x.>', false],
    ['x.a.>', 'x.*.b', false],
    // Only a whole token is a wildcard; a > before the end is literal.
    ['x.a*b', 'x.a', false],
    ['x.*', 'x.a*b', true],
    ['x.>.y', 'x.a.y', false],
  ];
  for (const [broader, narrower, expected] of cases) assert.equal(filterCovers(broader, narrower), expected, `${broader} covers ${narrower}`);
});

test('filtersOverlap: some subject matches both, in either order', () => {
  const cases: [string, string, boolean][] = [
    ['x.*.y', 'x.a.*', true],
    ['x.*.*', 'x.ch.*', true],
    ['pgbridge.*.*.*', 'pgbridge.channel.*', false],
    ['x.a.*', 'x.b.*', false],
    ['x.*', 'x.*.*', false],
    ['x.>', 'x.a.b', true],
    ['x.>', 'x', false],
    ['x.>', 'y.>', false],
    ['*.a', 'b.*', true],
    ['x.a*b', 'x.ab', false],
  ];
  for (const [a, b, expected] of cases) {
    assert.equal(filtersOverlap(a, b), expected, `${a} overlaps ${b}`);
    assert.equal(filtersOverlap(b, a), expected, `${b} overlaps ${a}`);
  }
});

test('uncoveredFilters: a filter another covers is left out, a repeated one kept once, the order kept', () => {
  assert.deepEqual(uncoveredFilters(['x.*.*', 'x.ch.*']), ['x.*.*']);
  assert.deepEqual(uncoveredFilters(['x.ch.*', 'x.*.*']), ['x.*.*']);
  assert.deepEqual(uncoveredFilters(['x.*', 'x.*']), ['x.*']);
  assert.deepEqual(uncoveredFilters(['pgbridge.*.*.*', 'pgbridge.channel.*']), ['pgbridge.*.*.*', 'pgbridge.channel.*']);
  assert.deepEqual(uncoveredFilters(['x.*.y', 'x.a.*']), ['x.*.y', 'x.a.*']);
  assert.deepEqual(uncoveredFilters(['x.a.*', 'x.>', 'x.b']), ['x.>']);
});

test('streamSubjects and streamSubjectsProblem: from the two templates', () => {
  assert.deepEqual(streamSubjects({ subject: 'x.{table}.{op}', channel_subject: 'x.ch.{channel}' }), ['x.*.*']);
  assert.equal(streamSubjectsProblem({ subject: 'x.{table}.{op}', channel_subject: 'x.ch.{channel}' }), undefined);
  assert.equal(streamSubjectsProblem({ subject: 'pgbridge.{schema}.{table}.{op}', channel_subject: 'pgbridge.channel.{channel}' }), undefined);
  assert.equal(streamSubjectsProblem({ subject: 'events', channel_subject: 'events' }), undefined);
  assert.equal(
    streamSubjectsProblem({ subject: 'x.{table}.y', channel_subject: 'x.a.{channel}' }),
    'cannot create a stream over subject "x.{table}.y" (x.*.y) and channel_subject "x.a.{channel}" (x.a.*): they overlap without one covering the other, which JetStream refuses; change one so that they differ in a fixed token, or create the stream yourself over subjects that take both and set declare: false',
  );
});
