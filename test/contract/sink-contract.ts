/**
 * The sink contract, written once and run against every sink type (the
 * Redpanda Connect idea): each `<type>.test.ts` next to this file supplies a
 * harness that builds the sink from config and reads what reached its real far
 * end. Every assertion is on that far end, never on what the sink says it sent.
 * Expected bodies are spelled out from CONTRACT §3 (test/support/contract-bodies.ts), not taken from src/formats.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test, type TestContext } from 'node:test';
import { parse, stringify } from 'lossless-json';
import { pino } from 'pino';
import type { Outcome } from '../../src/delivery/envelope.js';
import { SinkRunner } from '../../src/delivery/sink-runner.js';
import { PermanentError, RetriableError } from '../../src/errors.js';
import type { BridgeEvent, ChannelEvent, RowChangeEvent, RowOp } from '../../src/event.js';
import { FORMAT_NAMES, type FormatName } from '../../src/formats/index.js';
import { Metrics } from '../../src/metrics.js';
import type { Sink } from '../../src/sinks/sink.js';
import { waitFor } from '../support/bridge.js';
import { cloudEventAttributesOf, cloudEventDataBody, pgbridgeBody, skorBody } from '../support/contract-bodies.js';

/** The database name every harness gives its sinks (CloudEvents `source`). */
export const DATABASE = 'contractdb';

/** Names one case's events use, fresh per case, so a case reads only its own arrivals. */
export interface Scope {
  readonly table: string;
  readonly channel: string;
}

/** One event as the far end holds it. */
export interface Arrival {
  /** The event itself: request body (one element of a batch), message content, record value or line. */
  readonly body: string;
  /** Transport metadata (HTTP headers, AMQP properties and headers, Kafka headers). */
  readonly headers: Readonly<Record<string, string>>;
}

/** A CloudEvent read back from an arrival, whatever the binding: attributes, and data parsed with every digit kept. */
export interface CloudEventView {
  readonly attributes: Readonly<Record<string, string>>;
  readonly data: unknown;
}

/** Structured mode: attributes and data in one JSON object. */
export function structuredCloudEvent(body: string): CloudEventView {
  const { data, ...attributes } = parse(body) as Record<string, unknown>;
  return { attributes: attributes as Record<string, string>, data };
}

/** Binary mode: attributes as `prefix`-named headers, datacontenttype as the content type, data as the body. */
export function binaryCloudEvent(prefix: string): (arrival: Arrival) => CloudEventView {
  return ({ body, headers }) => {
    const attributes: Record<string, string> = { datacontenttype: headers['content-type'] };
    for (const [name, value] of Object.entries(headers)) if (name.startsWith(prefix)) attributes[name.slice(prefix.length)] = value;
    return { attributes, data: parse(body) };
  };
}

export interface FormatVariant {
  /** Shown in the test name, e.g. "cloudevents (binary)". */
  readonly label: string;
  readonly format: FormatName;
  /** Extra sink config keys for this variant (e.g. cloudevents_mode). */
  readonly options?: Readonly<Record<string, unknown>>;
  /** cloudevents only: how this sink's binding carries an event. */
  readonly cloudEvent?: (arrival: Arrival) => CloudEventView;
}

/** A connected sink and its far end. */
export interface FarEnd {
  readonly sink: Sink;
  /** Everything of this scope at the far end now, in the far end's order. Reads once, never waits for more. */
  arrived(): Promise<Arrival[]>;
}

/** The formats every sink carries in its body as they are. */
export const BODY_FORMATS: readonly FormatVariant[] = [
  { label: 'pgbridge', format: 'pgbridge' },
  { label: 'skor', format: 'skor' },
];

export interface FailingFarEnd extends FarEnd {
  /** Makes the far end work again. */
  heal(): Promise<void>;
}

/** The harness says why a case cannot apply to its sink; the suite records it in the test name. */
export interface NotApplicable {
  readonly notApplicable: string;
}

export interface SinkHarness {
  readonly type: string;
  /** Every format this sink offers, each binding mode of cloudevents as its own variant. */
  readonly formats: readonly FormatVariant[];
  /** The far end stores an event sent again (same id) once, as JetStream does inside its duplicate window. */
  readonly deduplicates?: boolean;
  /** Sink config keys that make the sink send several events per send() (none: it always may). */
  readonly batchOptions?: Readonly<Record<string, unknown>>;
  /** A connected sink built from config (`options` on top of the harness's own keys) whose far end takes every event of `scope`. */
  open(t: TestContext, scope: Scope, options?: Readonly<Record<string, unknown>>): Promise<FarEnd>;
  /** An event of `scope` that the far end refuses for good, while the rest of its batch goes through. */
  readonly permanent: { doomed(scope: Scope): BridgeEvent } | NotApplicable;
  /** A sink whose far end fails for now (unreachable or refusing), and how to heal it. */
  readonly retriable: { openFailing(t: TestContext, scope: Scope): Promise<FailingFarEnd> } | NotApplicable;
  /** Broker sinks carry the event headers (pgbridge-id, pgbridge-op, pgbridge-table or pgbridge-channel) in `Arrival.headers`. */
  readonly eventHeaders: 'carried' | NotApplicable;
}

const never = new AbortController().signal;
const TS = '2026-11-21T10:00:00.123456+00:00';
let serial = 0;

function newScope(): Scope {
  const tag = randomBytes(4).toString('hex');
  return { table: `ct_${tag}`, channel: `cc_${tag}` };
}

/** Ids beyond 2^53, as an outbox sequence can reach: a sink that treats them as numbers mangles them. */
const nextId = (): string => (9007199254740993n + BigInt(++serial)).toString();

function row(scope: Scope, key: number, op: RowOp, extra: Partial<RowChangeEvent> = {}): RowChangeEvent {
  const data = `{"id":${key},"region":"eu","amount":9007199254740993,"note":"é \\"q\\""}`;
  const old = `{"id":${key},"region":"eu","amount":1.50,"note":null}`;
  return {
    kind: 'row',
    id: nextId(),
    schema: 'public',
    table: scope.table,
    op,
    data: op === 'DELETE' ? old : data,
    old: op === 'INSERT' ? null : old,
    key: `{"id":${key},"region":"eu"}`,
    txid: '4242',
    ts: TS,
    ...extra,
  };
}

function notice(scope: Scope, payload: string): ChannelEvent {
  return { kind: 'channel', id: nextId(), channel: scope.channel, payload, ts: TS };
}

/** CONTRACT §3, cloudevents: the attributes and data every binding must carry. */
function expectedCloudEvent(event: BridgeEvent): CloudEventView {
  return { attributes: cloudEventAttributesOf(event, DATABASE), data: parse(cloudEventDataBody(event)) };
}

/** The id a pgbridge-format arrival carries in its body. */
function bodyId(arrival: Arrival): string {
  const id = (JSON.parse(arrival.body) as { id?: unknown }).id;
  assert.equal(typeof id, 'string', `no string id in ${arrival.body}`);
  return id as string;
}

const sorted = (values: readonly string[]): string[] => [...values].sort();

/** Sends as the runner would: batches no larger than the sink takes; each send's rejection is collected, not thrown. */
async function sendAll(sink: Sink, events: readonly BridgeEvent[]): Promise<unknown[]> {
  const errors: unknown[] = [];
  for (let i = 0; i < events.length; i += sink.maxBatch) {
    await sink.send(events.slice(i, i + sink.maxBatch), never).catch((err: unknown) => errors.push(err));
  }
  return errors;
}

/** One attempt as the delivery runner makes it: connect when not ready, then send. */
async function attempt(sink: Sink, batch: readonly BridgeEvent[]): Promise<void> {
  if (!sink.isReady()) await sink.connect(never);
  await sink.send(batch, never);
}

export function runSinkContract(harness: SinkHarness): void {
  const { type } = harness;

  describe(`sink contract: ${type}`, () => {
    test(`${type}: send resolves only once the far end holds every event of the batch`, async (t) => {
      const scope = newScope();
      const far = await harness.open(t, scope, { format: 'pgbridge' });
      const size = Math.min(5, far.sink.maxBatch);
      const seen: string[] = [];
      for (let round = 0; round < 3; round++) {
        const batch = Array.from({ length: size }, (_, i) => row(scope, round * 10 + i, 'INSERT'));
        await far.sink.send(batch, never);
        // No waiting here: at the moment send resolved, the events must already be readable.
        const ids = (await far.arrived()).map(bodyId);
        for (const event of batch) assert.ok(ids.includes(event.id), `round ${round}: ${event.id} not at the far end when send resolved`);
        seen.push(...batch.map((e) => e.id));
      }
      assert.deepEqual(sorted((await far.arrived()).map(bodyId)), sorted(seen));
    });

    test(`${type}: event ids arrive intact, and a batch sent again arrives with the same ids`, async (t) => {
      const scope = newScope();
      const far = await harness.open(t, scope, { format: 'pgbridge' });
      const events = [row(scope, 1, 'INSERT'), row(scope, 1, 'UPDATE'), notice(scope, '{"a":1}')];
      // The runner sends a batch again when a failure left its outcome unknown.
      assert.deepEqual(await sendAll(far.sink, events), []);
      assert.deepEqual(await sendAll(far.sink, events), []);
      const ids = events.map((e) => e.id);
      assert.deepEqual(sorted((await far.arrived()).map(bodyId)), sorted(harness.deduplicates ? ids : [...ids, ...ids]));
    });

    test(`${type}: through the sink runner, events of one row (and of one channel) arrive in the order sent`, async (t) => {
      const scope = newScope();
      const far = await harness.open(t, scope, { format: 'pgbridge', max_in_flight: 4, ...harness.batchOptions });
      const rows = 6;
      const perRow = 15;
      const events: BridgeEvent[] = [];
      for (let n = 0; n < perRow; n++) {
        for (let key = 1; key <= rows; key++) events.push(row(scope, key, n === 0 ? 'INSERT' : 'UPDATE'));
        if (n % 2 === 0) events.push(notice(scope, `{"n":${n}}`));
      }
      const runner = new SinkRunner(far.sink, {
        retry: { initial_ms: 50, max_ms: 500, max_attempts: 0 },
        logger: pino({ level: 'silent' }),
        metrics: new Metrics('contract'),
      });
      const outcomes: Outcome[] = [];
      const started = performance.now();
      for (const event of events) {
        await runner.waitForRoom();
        runner.push({ event, settle: (outcome) => outcomes.push(outcome) });
      }
      await waitFor(() => outcomes.length === events.length, 60_000, `${events.length} events settled`);
      const elapsed = performance.now() - started;
      await runner.stop(5_000, true);
      t.diagnostic(
        `${type}: ${events.length} events through the runner in ${elapsed.toFixed(0)} ms (${((events.length / elapsed) * 1000).toFixed(0)} events/s)`,
      );
      assert.deepEqual(
        outcomes.filter((o) => o.kind !== 'delivered'),
        [],
      );

      const arrived = (await far.arrived()).map((a) => JSON.parse(a.body) as { id: string; channel?: string; data?: { id: number } });
      assert.deepEqual(sorted(arrived.map((a) => a.id)), sorted(events.map((e) => e.id)), 'each event exactly once');
      const group = (e: { channel?: string; data?: { id: number } }): string => (e.channel !== undefined ? 'channel' : `row ${e.data?.id}`);
      const sentOrder = new Map<string, string[]>();
      for (const event of events) {
        const key = event.kind === 'channel' ? 'channel' : `row ${(JSON.parse(event.data) as { id: number }).id}`;
        sentOrder.set(key, [...(sentOrder.get(key) ?? []), event.id]);
      }
      for (const [key, ids] of sentOrder) {
        assert.deepEqual(
          arrived.filter((a) => group(a) === key).map((a) => a.id),
          ids,
          `${key} out of order`,
        );
      }
    });

    for (const name of FORMAT_NAMES) {
      test(`${type}: offers format ${name}`, () => {
        assert.ok(
          harness.formats.some((v) => v.format === name),
          `the ${type} harness lists no ${name} variant`,
        );
      });
    }

    for (const variant of harness.formats) {
      test(`${type}: format ${variant.label} arrives as CONTRACT §3 says (rows, JSON and non-JSON channel payloads)`, async (t) => {
        const scope = newScope();
        const far = await harness.open(t, scope, { format: variant.format, ...variant.options });
        const events: BridgeEvent[] = [
          row(scope, 7, 'INSERT'),
          row(scope, 7, 'UPDATE'),
          row(scope, 7, 'DELETE'),
          notice(scope, '{"a":1}'),
          notice(scope, 'hello world'),
        ];
        assert.deepEqual(await sendAll(far.sink, events), []);
        const arrived = await far.arrived();
        assert.equal(arrived.length, events.length, `arrived: ${arrived.map((a) => a.body).join('\n')}`);

        if (variant.format !== 'cloudevents') {
          const expected = events.map(variant.format === 'skor' ? skorBody : pgbridgeBody);
          assert.deepEqual(sorted(arrived.map((a) => a.body)), sorted(expected));
          return;
        }
        assert.ok(variant.cloudEvent, `the ${variant.label} variant must say how to read a CloudEvent`);
        const views = arrived.map(variant.cloudEvent);
        for (const event of events) {
          const view = views.find((v) => v.attributes.id === event.id);
          assert.ok(view, `no CloudEvent with id ${event.id}`);
          const expected = expectedCloudEvent(event);
          assert.deepEqual(view.attributes, expected.attributes);
          assert.deepEqual(stringify(view.data), stringify(expected.data));
        }
      });
    }

    // A case the harness calls not applicable (its reason is written there) is not registered.
    const { permanent } = harness;
    if (!('notApplicable' in permanent)) {
      test(`${type}: an event the far end refuses for good is a PermanentError naming its id; the rest arrive`, async (t) => {
        const scope = newScope();
        const far = await harness.open(t, scope, { format: 'pgbridge' });
        const doomed = permanent.doomed(scope);
        const good = [row(scope, 1, 'INSERT'), row(scope, 2, 'INSERT')];
        const errors = await sendAll(far.sink, [good[0], doomed, good[1]]);
        assert.ok(errors.length > 0, 'no send rejected');
        const failedIds = errors.flatMap((err) => {
          assert.ok(err instanceof PermanentError, `not a PermanentError: ${String(err)}`);
          assert.equal(err.retriable, false);
          assert.ok(err.failedIds, 'the PermanentError does not name the failed ids');
          return [...err.failedIds];
        });
        assert.deepEqual(failedIds, [doomed.id]);
        assert.deepEqual(sorted((await far.arrived()).map(bodyId)), sorted(good.map((e) => e.id)));
      });
    }

    const { retriable } = harness;
    if (!('notApplicable' in retriable)) {
      test(`${type}: a far end failing for now is a RetriableError; once healed the same event arrives once, same id`, async (t) => {
        const scope = newScope();
        const far = await retriable.openFailing(t, scope);
        const event = row(scope, 1, 'INSERT');
        await assert.rejects(attempt(far.sink, [event]), (err: unknown) => {
          assert.ok(err instanceof RetriableError, `not a RetriableError: ${String(err)}`);
          assert.ok(!(err instanceof PermanentError));
          return true;
        });
        assert.deepEqual(await far.arrived(), []);

        await far.heal();
        await waitFor(
          () =>
            attempt(far.sink, [event]).then(
              () => true,
              (err: unknown) => {
                if (err instanceof RetriableError) return false;
                throw err;
              },
            ),
          30_000,
          'a send after healing',
        );
        assert.deepEqual((await far.arrived()).map(bodyId), [event.id]);
      });
    }

    const { eventHeaders } = harness;
    if (eventHeaders === 'carried') {
      test(`${type}: every message carries the event headers: pgbridge-id, pgbridge-op (NOTIFY for a channel event), pgbridge-table or pgbridge-channel`, async (t) => {
        for (const variant of harness.formats) {
          const scope = newScope();
          const far = await harness.open(t, scope, { format: variant.format, ...variant.options });
          const update = row(scope, 7, 'UPDATE');
          const channel = notice(scope, '{"a":1}');
          assert.deepEqual(await sendAll(far.sink, [update, channel]), []);
          const carried = (await far.arrived()).map((a) =>
            Object.fromEntries(Object.entries(a.headers).filter(([name]) => name.startsWith('pgbridge-'))),
          );
          const byId = (id: string) => carried.find((headers) => headers['pgbridge-id'] === id);
          assert.equal(carried.length, 2, `format ${variant.label}: ${JSON.stringify(carried)}`);
          assert.deepEqual(
            byId(update.id),
            { 'pgbridge-id': update.id, 'pgbridge-op': 'UPDATE', 'pgbridge-table': `public.${scope.table}` },
            `format ${variant.label}`,
          );
          assert.deepEqual(
            byId(channel.id),
            { 'pgbridge-id': channel.id, 'pgbridge-op': 'NOTIFY', 'pgbridge-channel': scope.channel },
            `format ${variant.label}`,
          );
        }
      });
    }
  });
}
