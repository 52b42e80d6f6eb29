/**
 * fromKafkaJsError against the error shapes kafkajs really produces: its own
 * error classes, its protocol errors made from their codes, and its retrier
 * (which marks whatever it gives up on as non-retriable) wrapping them.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, test } from 'node:test';
import { PermanentError, RetriableError } from '../../src/errors.js';
import { fromKafkaJsError, KAFKA_REJECTED, KAFKA_RETRIABLE, KAFKA_UNAVAILABLE } from '../../src/sinks/kafka/errors.js';

interface ErrorCode {
  readonly type: string;
  readonly code: number;
  readonly retriable: boolean;
}
type Retrier = <T>(fn: (bail: (err: Error) => void, retryCount: number) => Promise<T>) => Promise<T>;
type KafkaJsErrorClass = new (e: Error | string, options?: object) => Error & { readonly retriable: boolean };

// kafkajs' own modules, as its producer uses them (its typings lack some classes and options).
const require = createRequire(import.meta.url);
const {
  KafkaJSConnectionClosedError,
  KafkaJSConnectionError,
  KafkaJSLockTimeout,
  KafkaJSNonRetriableError,
  KafkaJSNumberOfRetriesExceeded,
  KafkaJSRequestTimeoutError,
} = require('kafkajs/src/errors.js') as Record<
  | 'KafkaJSConnectionClosedError'
  | 'KafkaJSConnectionError'
  | 'KafkaJSLockTimeout'
  | 'KafkaJSNonRetriableError'
  | 'KafkaJSNumberOfRetriesExceeded'
  | 'KafkaJSRequestTimeoutError',
  KafkaJsErrorClass
>;
const protocol = require('kafkajs/src/protocol/error.js') as { errorCodes: ErrorCode[]; createErrorFromCode(code: number): Error };
const createRetry = require('kafkajs/src/retry/index.js') as (options: object) => Retrier;

const protocolError = (type: string): Error => {
  const known = protocol.errorCodes.find((e) => e.type === type);
  assert.ok(known, `kafkajs has no protocol error ${type}`);
  return protocol.createErrorFromCode(known.code);
};

/** What kafkajs' retrier rejects with when `fn` keeps failing with `error` (thrown, not bailed). */
async function givenUpOn(error: Error, retrier = createRetry({ retries: 1, initialRetryTime: 1, maxRetryTime: 1 })): Promise<unknown> {
  return retrier(() => Promise.reject(error)).then(
    () => assert.fail('the retrier resolved'),
    (err: unknown) => err,
  );
}

/** The producer's retrier around a cluster call whose own retrier gave up: kafkajs' nesting (sendMessages → cluster.connect). */
const givenUpTwice = async (error: Error): Promise<unknown> => givenUpOn((await givenUpOn(error)) as Error);

function assertRetried(err: unknown, code: string, message: RegExp): void {
  const classified = fromKafkaJsError(err);
  assert.ok(classified instanceof RetriableError, `${String(err)} became ${String(classified)}`);
  assert.equal(classified.code, code);
  assert.match(classified.message, message);
  assert.equal(classified.cause, err);
}

function assertRejected(err: unknown, message: RegExp): void {
  const classified = fromKafkaJsError(err);
  assert.ok(classified instanceof PermanentError, `${String(err)} became ${String(classified)}`);
  assert.equal(classified.code, KAFKA_REJECTED);
  assert.match(classified.message, message);
}

describe('fromKafkaJsError: a broker that is frozen, gone or slow is retried, never dead-lettered', () => {
  test("kafkajs' retrier giving up on a plain Error('Broker not connected') (the audit's dead letters)", async () => {
    const gaveUp = await givenUpOn(new Error('Broker not connected'));
    assert.ok(gaveUp instanceof KafkaJSNumberOfRetriesExceeded);
    assert.equal(gaveUp.retriable, false);
    assertRetried(gaveUp, KAFKA_UNAVAILABLE, /^kafka: Broker not connected$/);
  });

  test('KafkaJSNonRetriableError around Error("Broker not connected"), as an outer retrier wraps an inner one that gave up', async () => {
    const inner = new Error('Broker not connected');
    assertRetried(new KafkaJSNonRetriableError(inner, { cause: inner }), KAFKA_UNAVAILABLE, /Broker not connected/);
    const nested = await givenUpTwice(inner);
    assert.equal((nested as Error).name, 'KafkaJSNonRetriableError');
    assertRetried(nested, KAFKA_UNAVAILABLE, /^kafka: Broker not connected$/);
  });

  test('retries exhausted on connection errors and request timeouts, once or twice wrapped', async () => {
    const refused = new KafkaJSConnectionError('Connection error: connect ECONNREFUSED 127.0.0.1:9092', {
      broker: '127.0.0.1:9092',
      code: 'ECONNREFUSED',
    });
    const timedOut = new KafkaJSRequestTimeoutError('Request Produce(key: 0, version: 7) timed out', { broker: '127.0.0.1:9092' });
    const closed = new KafkaJSConnectionClosedError('Closed connection', { host: '127.0.0.1', port: 9092 });
    for (const error of [refused, timedOut, closed]) {
      assertRetried(
        new KafkaJSNumberOfRetriesExceeded(error, { retryCount: 2, retryTime: 100 }),
        KAFKA_UNAVAILABLE,
        /^kafka: (Connection|Request|Closed)/,
      );
      assertRetried(await givenUpOn(error), KAFKA_UNAVAILABLE, /^kafka: (Connection|Request|Closed)/);
      assertRetried(await givenUpTwice(error), KAFKA_UNAVAILABLE, /^kafka: (Connection|Request|Closed)/);
      assertRetried(error, KAFKA_UNAVAILABLE, /^kafka: /);
    }
  });

  test('non-retriable by kafkajs yet about the connection: lock timeout, BROKER_NOT_AVAILABLE, SASL failures', async () => {
    const lock = new KafkaJSLockTimeout('Timeout while acquiring lock (1 waiting locks): "connect to broker 127.0.0.1:9092"');
    assert.equal(lock.retriable, false);
    assertRetried(lock, KAFKA_UNAVAILABLE, /Timeout while acquiring lock/);
    assertRetried(await givenUpOn(lock), KAFKA_UNAVAILABLE, /Timeout while acquiring lock/);
    for (const type of ['BROKER_NOT_AVAILABLE', 'SASL_AUTHENTICATION_FAILED', 'ILLEGAL_SASL_STATE', 'UNSUPPORTED_SASL_MECHANISM']) {
      assertRetried(protocolError(type), KAFKA_UNAVAILABLE, new RegExp(`\\(${type}\\)$`));
    }
  });

  test('retriable broker errors, also after retries were exhausted; unknown server errors and bare kafkajs refusals too', async () => {
    assertRetried(await givenUpOn(protocolError('NOT_LEADER_FOR_PARTITION')), KAFKA_RETRIABLE, /\(NOT_LEADER_FOR_PARTITION\)$/);
    assertRetried(await givenUpOn(protocolError('NOT_ENOUGH_REPLICAS')), KAFKA_RETRIABLE, /\(NOT_ENOUGH_REPLICAS\)$/);
    assertRetried(protocolError('UNKNOWN'), KAFKA_RETRIABLE, /\(UNKNOWN\)$/);
    assertRetried(protocol.createErrorFromCode(9999), KAFKA_RETRIABLE, /Unknown error code 9999/);
    assertRetried(
      new KafkaJSNonRetriableError("The producer is disconnecting; therefore, it can't safely accept messages anymore"),
      KAFKA_RETRIABLE,
      /disconnecting/,
    );
    // Not kafkajs' own: retried with a new producer.
    assertRetried(new TypeError("Cannot read properties of undefined (reading 'nodeId')"), KAFKA_UNAVAILABLE, /nodeId/);
  });

  test('every protocol error kafkajs itself calls retriable is retried', () => {
    for (const { code, type } of protocol.errorCodes.filter((e) => e.retriable)) {
      assert.ok(fromKafkaJsError(protocol.createErrorFromCode(code)) instanceof RetriableError, type);
    }
  });
});

describe('fromKafkaJsError: what the brokers refuse for good is dead-lettered', () => {
  test('message too large, illegal topic, not authorized, invalid acks or config: as answered and as a retrier passes them on', async () => {
    for (const type of [
      'MESSAGE_TOO_LARGE',
      'RECORD_LIST_TOO_LARGE',
      'INVALID_TOPIC_EXCEPTION',
      'TOPIC_AUTHORIZATION_FAILED',
      'INVALID_REQUIRED_ACKS',
      'INVALID_CONFIG',
    ]) {
      const answered = protocolError(type);
      assertRejected(answered, new RegExp(`^kafka: .+ \\(${type}\\)$`));
      const passedOn = await givenUpOn(answered);
      assert.equal((passedOn as Error).name, 'KafkaJSNonRetriableError');
      assertRejected(passedOn, new RegExp(`\\(${type}\\)$`));
    }
  });

  test('exactly these protocol errors are permanent', () => {
    const permanent = protocol.errorCodes
      .filter((e) => fromKafkaJsError(protocol.createErrorFromCode(e.code)) instanceof PermanentError)
      .map((e) => e.type);
    assert.deepEqual(permanent.sort(), [
      'CLUSTER_AUTHORIZATION_FAILED',
      'INVALID_CONFIG',
      'INVALID_RECORD',
      'INVALID_REQUIRED_ACKS',
      'INVALID_TIMESTAMP',
      'INVALID_TOPIC_EXCEPTION',
      'MESSAGE_TOO_LARGE',
      'POLICY_VIOLATION',
      'RECORD_LIST_TOO_LARGE',
      'TOPIC_AUTHORIZATION_FAILED',
      'TRANSACTIONAL_ID_AUTHORIZATION_FAILED',
      'UNSUPPORTED_COMPRESSION_TYPE',
      'UNSUPPORTED_FOR_MESSAGE_FORMAT',
    ]);
  });

  test("pgbridge's own errors pass through as they are", () => {
    const retriable = new RetriableError('kafka: aborted');
    const permanent = new PermanentError('kafka: topic "a b" is not a legal Kafka topic name');
    assert.equal(fromKafkaJsError(retriable), retriable);
    assert.equal(fromKafkaJsError(permanent), permanent);
  });
});
