import { PermanentError, RetriableError } from '../../errors.js';

/** No usable connection (refused, lost, timed out): the sink is not ready until connect() succeeds again. */
export const MQTT_UNAVAILABLE = 'PGBRIDGE_MQTT_UNAVAILABLE';
/** The broker refused this message for now (quota exceeded, …): send it again later. */
export const MQTT_RETRIABLE = 'PGBRIDGE_MQTT_RETRIABLE';
/** The broker (or MQTT's own rules) refuse this message for good: not authorized, topic invalid, too large. */
export const MQTT_REJECTED = 'PGBRIDGE_MQTT_REJECTED';

/** MQTT 5 reason codes (§2.4) that PUBACK, PUBREC, CONNACK and DISCONNECT carry, by name. */
const REASON_NAMES: Readonly<Record<number, string>> = {
  0x80: 'unspecified error',
  0x81: 'malformed packet',
  0x82: 'protocol error',
  0x83: 'implementation specific error',
  0x84: 'unsupported protocol version',
  0x85: 'client identifier not valid',
  0x86: 'bad user name or password',
  0x87: 'not authorized',
  0x88: 'server unavailable',
  0x89: 'server busy',
  0x8a: 'banned',
  0x8b: 'server shutting down',
  0x8c: 'bad authentication method',
  0x8d: 'keep alive timeout',
  0x8e: 'session taken over',
  0x90: 'topic name invalid',
  0x91: 'packet identifier in use',
  0x93: 'receive maximum exceeded',
  0x95: 'packet too large',
  0x96: 'message rate too high',
  0x97: 'quota exceeded',
  0x98: 'administrative action',
  0x99: 'payload format invalid',
  0x9c: 'use another server',
  0x9d: 'server moved',
  0x9f: 'connection rate exceeded',
};

/**
 * PUBACK / PUBREC codes that refuse this very message whatever the moment:
 * sending it again gets the same answer, so it goes to the dead letters.
 * Every other failure code (unspecified error, packet identifier in use,
 * quota exceeded, …) is retried.
 */
const REFUSED_FOR_GOOD = new Set([
  0x83, // implementation specific: "valid, but the receiver is not willing to accept it" (Mosquitto: a plugin said no)
  0x87, // not authorized: the broker's ACL denies this topic
  0x90, // topic name invalid
  0x95, // packet too large
  0x99, // payload format invalid
]);

export function reasonName(code: number): string {
  return REASON_NAMES[code] ?? `reason code 0x${code.toString(16)}`;
}

const hex = (code: number): string => `0x${code.toString(16).padStart(2, '0')}`;

/** The broker's negative PUBACK (QoS 1) or PUBREC (QoS 2) for one message, as a pgbridge error. */
export function fromPublishReasonCode(code: number, topic: string): PermanentError | RetriableError {
  const message = `mqtt: broker refused the publish to ${JSON.stringify(topic)}: ${reasonName(code)} (${hex(code)})`;
  if (REFUSED_FOR_GOOD.has(code)) return new PermanentError(message, { code: MQTT_REJECTED });
  return new RetriableError(message, { code: MQTT_RETRIABLE });
}

/** A refused CONNECT (bad credentials, not authorized, server busy …): retried, since an operator fixes it, not dead-lettering. */
export function fromConnackReasonCode(code: number, where: string): RetriableError {
  return new RetriableError(`${where}: broker refused the connection: ${reasonName(code)} (${hex(code)})`, { code: MQTT_UNAVAILABLE });
}

export function cannotConnect(where: string, reason: string): RetriableError {
  return new RetriableError(`${where}: cannot connect: ${reason}`, { code: MQTT_UNAVAILABLE });
}

export function connectionLost(where: string, reason: string): RetriableError {
  return new RetriableError(`${where}: connection lost: ${reason}`, { code: MQTT_UNAVAILABLE });
}
