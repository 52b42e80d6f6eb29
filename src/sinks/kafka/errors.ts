import { PermanentError, RetriableError } from '../../errors.js';

/** The brokers could not be reached or stopped answering: the sink is not ready until connect() succeeds again. */
export const KAFKA_UNAVAILABLE = 'PGBRIDGE_KAFKA_UNAVAILABLE';
/** The brokers refused for now (leader moving, not enough replicas, …): send again later. */
export const KAFKA_RETRIABLE = 'PGBRIDGE_KAFKA_RETRIABLE';
/** The brokers refused for good (message too large, invalid topic, not authorized). */
export const KAFKA_REJECTED = 'PGBRIDGE_KAFKA_REJECTED';

/**
 * The only permanent failures: what the brokers answer about the messages
 * themselves (kafkajs protocol error types), so that sending them again gets
 * the same answer. Everything else is retried, whatever kafkajs' `retriable`
 * says: its retrier marks every error it gives up on as non-retriable.
 */
const REFUSED_FOR_GOOD = new Set([
  'MESSAGE_TOO_LARGE',
  'RECORD_LIST_TOO_LARGE',
  'INVALID_RECORD',
  'INVALID_TIMESTAMP',
  'UNSUPPORTED_FOR_MESSAGE_FORMAT',
  'UNSUPPORTED_COMPRESSION_TYPE',
  'INVALID_TOPIC_EXCEPTION',
  'TOPIC_AUTHORIZATION_FAILED',
  'CLUSTER_AUTHORIZATION_FAILED',
  'TRANSACTIONAL_ID_AUTHORIZATION_FAILED',
  'POLICY_VIOLATION',
  'INVALID_REQUIRED_ACKS',
  'INVALID_CONFIG',
]);

/** kafkajs errors that mean "no usable connection", whatever their `retriable` flag says. */
const UNAVAILABLE = new Set([
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSRequestTimeoutError',
  'KafkaJSBrokerNotFound',
  'KafkaJSNoBrokerAvailableError',
  'KafkaJSMetadataNotLoaded',
  'KafkaJSTimeout',
  'KafkaJSLockTimeout',
  // A credentials problem is fixed by an operator, not by dead-lettering events.
  'KafkaJSSASLAuthenticationError',
]);

/** Protocol error types that mean the same (kafkajs flags them non-retriable). */
const UNAVAILABLE_TYPES = new Set(['BROKER_NOT_AVAILABLE', 'SASL_AUTHENTICATION_FAILED', 'ILLEGAL_SASL_STATE', 'UNSUPPORTED_SASL_MECHANISM']);

interface KafkaJsErrorShape {
  name: string;
  message: string;
  type?: unknown;
  cause?: unknown;
}

const isKafkaJsError = (err: unknown): err is KafkaJsErrorShape => err instanceof Error && err.name.startsWith('KafkaJS');

/**
 * kafkajs wraps what went wrong (KafkaJSNumberOfRetriesExceeded,
 * KafkaJSNonRetriableError, each with `cause`) around the error that tells,
 * which need not be a kafkajs one: find that one.
 */
function rootError(err: unknown): unknown {
  let current = err;
  for (let depth = 0; depth < 10 && isKafkaJsError(current); depth++) {
    if (!(current.cause instanceof Error) || current.cause === current) break;
    current = current.cause;
  }
  return current;
}

const protocolType = (err: unknown): string | undefined => (isKafkaJsError(err) && typeof err.type === 'string' ? err.type : undefined);

/**
 * Besides the errors above: any that is not kafkajs' own. Such as the plain
 * Error('Broker not connected') of src/broker/index.js when a broker's
 * connect() opened a socket but never finished (its ApiVersions request timed
 * out, as against a frozen broker): that broker fails every request until its
 * producer is replaced, which a not-ready sink does. Or a TypeError of its
 * internals, caught in a state they do not recover from.
 */
function isUnavailable(root: unknown): boolean {
  if (isKafkaJsError(root)) return UNAVAILABLE.has(root.name) || UNAVAILABLE_TYPES.has(protocolType(root) ?? '');
  return root instanceof Error;
}

/** A kafkajs failure as pgbridge's RetriableError or PermanentError, the original kept as `cause`. */
export function fromKafkaJsError(err: unknown): RetriableError | PermanentError {
  if (err instanceof RetriableError || err instanceof PermanentError) return err;
  const root = rootError(err);
  const type = protocolType(root);
  const message = `kafka: ${root instanceof Error ? root.message : String(root)}${type === undefined ? '' : ` (${type})`}`;
  if (type !== undefined && REFUSED_FOR_GOOD.has(type)) return new PermanentError(message, { cause: err, code: KAFKA_REJECTED });
  if (isUnavailable(root)) return new RetriableError(message, { cause: err, code: KAFKA_UNAVAILABLE });
  return new RetriableError(message, { cause: err, code: KAFKA_RETRIABLE });
}
