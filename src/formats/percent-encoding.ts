/** `%XX` (upper-case hex) for each byte value. */
const BYTE_ESCAPES = Array.from({ length: 256 }, (_, byte) => `%${byte.toString(16).toUpperCase().padStart(2, '0')}`);

function utf8Escapes(character: string): string {
  let escaped = '';
  for (const byte of Buffer.from(character, 'utf8')) escaped += BYTE_ESCAPES[byte];
  return escaped;
}

/**
 * `value` with every character `characters` matches replaced by its UTF-8
 * bytes as %XX. `characters` must be global, and have the `u` flag so that a
 * character beyond U+FFFF is one match, not two halves of a surrogate pair.
 * When it matches `%`, decodeURIComponent() gives `value` back.
 */
export function percentEncode(value: string, characters: RegExp): string {
  return value.replace(characters, utf8Escapes);
}

/**
 * What the CloudEvents HTTP binding (v1.0.2 §3.1.3.2), and the NATS binding
 * after it (v1.0.3), percent-encode in a header value: every character but
 * printable ASCII (U+0021-U+007E), and space, `"` and `%`. A quoted Postgres
 * name or a text key can hold any of them but NUL, and HTTP and NATS headers
 * only printable ASCII: a line break would end the header.
 */
const BEYOND_HEADER_TEXT = /[^\x21\x23\x24\x26-\x7e]/gu;

/** A value as the CloudEvents HTTP and NATS bindings carry it in a header. */
export const cloudEventsHeaderValue = (value: string): string => percentEncode(value, BEYOND_HEADER_TEXT);
