import { PermanentError, RetriableError } from '../../errors.js';

/** The brokers could not be reached or stopped answering: the sink is not ready until connect() succeeds again. */
export const KAFKA_UNAVAILABLE = 'PGBRIDGE_KAFKA_UNAVAILABLE';
/** The brokers refused for now (leader moving, not enough replicas, …): send again later. */
export const KAFKA_RETRIABLE = 'PGBRIDGE_KAFKA_RETRIABLE';
/** The brokers refused for good (message too large, invalid topic, not authorized). */
export const KAFKA_REJECTED = 'PGBRIDGE_KAFKA_REJECTED';

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

interface KafkaJsErrorShape {
  name: string;
  message: string;
  retriable?: unknown;
  type?: unknown;
  cause?: unknown;
}

const isKafkaJsError = (err: unknown): err is KafkaJsErrorShape => err instanceof Error && err.name.startsWith('KafkaJS');

/**
 * kafkajs wraps what went wrong (KafkaJSNumberOfRetriesExceeded, a bare
 * KafkaJSNonRetriableError) around the error that tells: find that one.
 */
function rootError(err: unknown): unknown {
  let current = err;
  for (let depth = 0; depth < 10 && isKafkaJsError(current); depth++) {
    const wrapper = current.name === 'KafkaJSNumberOfRetriesExceeded' || current.name === 'KafkaJSNonRetriableError';
    if (!wrapper || !isKafkaJsError(current.cause) || current.cause === current) break;
    current = current.cause;
  }
  return current;
}

/** A kafkajs failure as pgbridge's RetriableError or PermanentError, the original kept as `cause`. */
export function fromKafkaJsError(err: unknown): RetriableError | PermanentError {
  if (err instanceof RetriableError || err instanceof PermanentError) return err;
  const root = rootError(err);
  if (!isKafkaJsError(root)) {
    return new RetriableError(`kafka: ${root instanceof Error ? root.message : String(root)}`, { cause: err, code: KAFKA_RETRIABLE });
  }
  const detail = typeof root.type === 'string' ? ` (${root.type})` : '';
  const message = `kafka: ${root.message}${detail}`;
  if (UNAVAILABLE.has(root.name)) return new RetriableError(message, { cause: err, code: KAFKA_UNAVAILABLE });
  if (root.retriable === false) return new PermanentError(message, { cause: err, code: KAFKA_REJECTED });
  return new RetriableError(message, { cause: err, code: KAFKA_RETRIABLE });
}
