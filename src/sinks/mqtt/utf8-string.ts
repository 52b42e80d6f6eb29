import { percentEncode } from '../../formats/percent-encoding.js';

/**
 * What an MQTT 5 UTF-8 string must not (U+0000) or should not hold (§1.5.4:
 * the control characters U+0001-U+001F and U+007F-U+009F, Unicode
 * noncharacters). Mosquitto takes any of them in a topic or a user property
 * as "Malformed UTF-8" and closes the connection, with every unacknowledged
 * message on it. A quoted Postgres name or a text key can hold all but NUL.
 */
const BEYOND_MQTT_STRINGS = /[\p{Cc}\p{Noncharacter_Code_Point}]/u;
const ENCODED_IN_PROPERTIES = /[%\p{Cc}\p{Noncharacter_Code_Point}]/gu;

/** Whether `text` holds a character an MQTT string cannot carry. */
export const beyondMqttStrings = (text: string): boolean => BEYOND_MQTT_STRINGS.test(text);

/**
 * A user property value any broker takes: those characters, and `%` so that
 * one decodeURIComponent() reads it back, percent-encoded as UTF-8; the rest,
 * non-ASCII letters included, as it is.
 */
export const userPropertyValue = (value: string): string => percentEncode(value, ENCODED_IN_PROPERTIES);
