import assert from 'node:assert/strict';
import { test } from 'node:test';
import { outsideStream, subjectMatches } from '../../src/sinks/nats/subject.js';

test('subjectMatches: NATS wildcard rules, * one token, a last > one or more, literal tokens equal', () => {
  const cases: [string, string, boolean][] = [
    ['pgbridge.public.orders.insert', 'pgbridge.*.*.*', true],
    ['pgbridge.public.orders.insert', 'pgbridge.public.orders.insert', true],
    ['pgbridge.public.orders.insert', 'pgbridge.public.orders.update', false],
    ['pgbridge.public.orders.insert', 'pgbridge.>', true],
    ['pgbridge.public.orders.insert', '>', true],
    ['pgbridge.public.orders.insert', 'pgbridge.*.>', true],
    ['pgbridge.public.orders.insert', 'pgbridge.public.orders.insert.>', false],
    ['pgbridge', 'pgbridge.>', false],
    ['pgbridge.x', 'pgbridge.>', true],
    // The audit's case: a dotted schema and table give more tokens than the declared wildcard has.
    ['audit_ev.My.Schema.x.y.insert', 'audit_ev.*.*.*', false],
    ['pgbridge.public.orders', 'pgbridge.*.*.*', false],
    ['other.public.orders.insert', 'pgbridge.*.*.*', false],
    ['pgbridge.channel.jobs', 'pgbridge.channel.*', true],
    ['pgbridge.channel.a.b', 'pgbridge.channel.*', false],
    ['pgbridge.channel.a.b', 'pgbridge.channel.*.*', true],
    ['Pgbridge.a', 'pgbridge.*', false],
    ['a*b.c', 'a*b.*', true],
  ];
  for (const [subject, filter, expected] of cases) assert.equal(subjectMatches(subject, filter), expected, `${subject} under ${filter}`);
});

test('outsideStream: undefined when any filter takes the subject, else a reason naming the subject, the stream and its filters', () => {
  assert.equal(outsideStream('ev.public.wh.insert', 'EV', ['ev.*.*.*', 'ev.channel.*']), undefined);
  assert.equal(outsideStream('ev.My.Schema.x.y.insert', 'EV', ['ev.channel.*', 'ev.My.Schema.x.y.*']), undefined);
  const reason = outsideStream('ev.My.Schema.x.y.insert', 'EV', ['ev.*.*.*', 'ev.channel.*']);
  assert.equal(
    reason,
    'no stream took the message: subject "ev.My.Schema.x.y.insert" is not one stream "EV" listens on (ev.*.*.*, ev.channel.*), where * stands for exactly one token (a dot in a schema, table or channel name makes more); change the sink\'s subject template or the stream\'s subjects',
  );
  assert.match(outsideStream('ev.a', 'EV', ['other.>'])!, /listens on \(other\.>\); change/);
  assert.match(outsideStream('ev.a', 'MIRROR', [])!, /stream "MIRROR" listens on no subject;/);
});
