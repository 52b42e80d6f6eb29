import { errorMessage, PermanentError, RetriableError } from '../../errors.js';

/** No usable connection (refused, closed, authentication failed): the sink is not ready until connect() succeeds again. */
export const NATS_UNAVAILABLE = 'PGBRIDGE_NATS_UNAVAILABLE';
/** No PubAck for now (timeout, no stream listening yet, stream full): publish again later. */
export const NATS_RETRIABLE = 'PGBRIDGE_NATS_RETRIABLE';
/** Refused for good (too large, not permitted, stored by another stream, illegal subject). */
export const NATS_REJECTED = 'PGBRIDGE_NATS_REJECTED';

/** JetStream API error codes (err_code) that sending again cannot cure. */
const REJECTED_API_CODES = new Map<number, string>([
  [10060, 'the subject is stored by another stream than the expected one'],
  [10054, "the message is larger than the stream's max_msg_size"],
]);

/** Client errors that mean the connection is gone or could not be made. */
const UNAVAILABLE = new Set([
  'ClosedConnectionError',
  'ConnectionError',
  'DrainingConnectionError',
  'ProtocolError',
  // A credentials problem is fixed by an operator, not by dead-lettering events.
  'AuthorizationError',
  'UserAuthenticationExpiredError',
]);

interface NatsErrorShape extends Error {
  readonly code?: unknown;
  readonly status?: unknown;
}

const isError = (err: unknown): err is NatsErrorShape => err instanceof Error;

/** The NATS client wraps the error that tells (a permissions violation, "no responders") in RequestError or JetStreamNotEnabled. */
function rootError(err: unknown): unknown {
  let current = err;
  for (let depth = 0; depth < 5 && isError(current) && ['RequestError', 'JetStreamNotEnabled'].includes(current.name); depth++) {
    if (!isError(current.cause)) break;
    current = current.cause;
  }
  return current;
}

/** Whether the server answered "no responders": nothing listens on the subject (no stream takes it, or JetStream is not up). */
export function isNoResponders(err: unknown): boolean {
  const root = rootError(err);
  return isError(root) && root.name === 'NoResponders';
}

/**
 * A NATS client or JetStream failure as pgbridge's RetriableError or
 * PermanentError, decided from what the server answered; the original kept as `cause`.
 */
export function fromNatsError(err: unknown, subject?: string): RetriableError | PermanentError {
  if (err instanceof RetriableError || err instanceof PermanentError) return err;
  const root = rootError(err);
  const message = (text: string): string => `nats: ${text}`;
  if (!isError(root)) return new RetriableError(message(String(root)), { cause: err, code: NATS_RETRIABLE });
  const where = subject === undefined ? '' : ` (subject ${JSON.stringify(subject)})`;
  switch (root.name) {
    case 'NoResponders':
      // No stream takes the subject, JetStream is off, or (just after a server restart) not up yet.
      if (subject === undefined)
        return new RetriableError(message('JetStream did not answer: not enabled on the server or for this account, or still starting'), {
          cause: err,
          code: NATS_RETRIABLE,
        });
      return new RetriableError(
        message(`no JetStream stream took the message${where}: no stream listens on that subject, or JetStream is not enabled or still starting`),
        { cause: err, code: NATS_RETRIABLE },
      );
    case 'TimeoutError':
      return new RetriableError(message(`no PubAck in time${where}`), { cause: err, code: NATS_RETRIABLE });
    case 'PermissionViolationError':
    case 'InvalidSubjectError':
      return new PermanentError(message(`${root.message}${where}`), { cause: err, code: NATS_REJECTED });
    case 'InvalidArgumentError':
      if (/max_payload/.test(root.message)) return new PermanentError(message(`${root.message}${where}`), { cause: err, code: NATS_REJECTED });
      break;
    case 'JetStreamApiError': {
      const reason = typeof root.code === 'number' ? REJECTED_API_CODES.get(root.code) : undefined;
      const detail = `JetStream refused the message${where}: ${root.message} (err_code ${String(root.code)})`;
      if (reason !== undefined) return new PermanentError(message(`${detail}: ${reason}`), { cause: err, code: NATS_REJECTED });
      return new RetriableError(message(detail), { cause: err, code: NATS_RETRIABLE });
    }
  }
  if (UNAVAILABLE.has(root.name)) return new RetriableError(message(errorMessage(root)), { cause: err, code: NATS_UNAVAILABLE });
  return new RetriableError(message(errorMessage(root)), { cause: err, code: NATS_RETRIABLE });
}
