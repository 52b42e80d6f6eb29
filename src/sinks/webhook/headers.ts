import type { ConfigProblem } from '../../config/sink-schema.js';
import { BINARY_ATTRIBUTES } from '../../formats/index.js';

/**
 * Who sets which request header. HTTP header names are case-insensitive, so
 * a name is one header however it is spelled: a receiver given two reads
 * either (Node keeps the first user-agent or content-type and drops the rest).
 */

const FRAMING = 'the HTTP client frames the request and keeps the connection itself';
const SIGNING = 'it is a Standard Webhooks signature header (with `secret`): a value of yours would not verify';
const CLOUDEVENT = 'it carries a CloudEvents attribute of the event (binary mode)';

/** Headers pgbridge sets itself, by lower-case name, with why a sink's `headers` may not give them. */
const PGBRIDGE_SETS: ReadonlyMap<string, string> = new Map([
  ['content-type', 'it names the format of the body pgbridge writes (JSON, a CloudEvent or a batch of them)'],
  ['content-length', FRAMING],
  ['transfer-encoding', FRAMING],
  ['keep-alive', FRAMING],
  ['upgrade', FRAMING],
  ['expect', FRAMING],
  ['webhook-id', SIGNING],
  ['webhook-timestamp', SIGNING],
  ['webhook-signature', SIGNING],
  ...BINARY_ATTRIBUTES.map((attribute): [string, string] => [`ce-${attribute}`, CLOUDEVENT]),
]);

/**
 * `Content-Type: application/json`, a line many webhook configs carry: what
 * pgbridge sends anyway for JSON bodies, so accepted and left to pgbridge
 * (which sends the CloudEvents media types where the format calls for them).
 */
const JSON_CONTENT_TYPE = /^\s*application\/json\s*(;.*)?$/i;
const redundant = (lower: string, value: string): boolean => lower === 'content-type' && JSON_CONTENT_TYPE.test(value);

/** RFC 9110 field names: a token. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** What a field value may not hold (undici's rule): control characters but tab, and anything beyond Latin-1. */
const BEYOND_FIELD_VALUE = /[^\t\x20-\x7e\x80-\xff]/;

/** What is wrong with a sink's `headers`: names pgbridge sets, a name given twice, names and values HTTP cannot carry. */
export function headerProblems(headers: Readonly<Record<string, string>>): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const seen = new Set<string>();
  for (const [name, value] of Object.entries(headers)) {
    const path = `headers.${name}`;
    const lower = name.toLowerCase();
    const reason = PGBRIDGE_SETS.get(lower);
    if (!HEADER_NAME.test(name)) problems.push({ path, message: "is not a valid HTTP header name (letters, digits and !#$%&'*+.^_`|~- only)" });
    else if (reason !== undefined && !redundant(lower, value))
      problems.push({ path, message: `cannot be set: pgbridge sets ${lower} itself, since ${reason}` });
    else if (seen.has(lower)) problems.push({ path, message: 'is given twice: header names are the same in any case' });
    else if (BEYOND_FIELD_VALUE.test(value))
      problems.push({
        path,
        message: 'may not hold a line break, another control character than tab, or a character beyond Latin-1 (U+00FF): HTTP cannot send it',
      });
    seen.add(lower);
  }
  return problems;
}

/** A sink's `headers` as written (a redundant content-type left out), with each of pgbridge's `defaults` whose name they do not give in any case. */
export function withDefaults(headers: Readonly<Record<string, string>>, defaults: Readonly<Record<string, string>>): Record<string, string> {
  const own = Object.entries(headers).filter(([name, value]) => !redundant(name.toLowerCase(), value));
  const given = new Set(own.map(([name]) => name.toLowerCase()));
  const kept = Object.entries(defaults).filter(([name]) => !given.has(name));
  return { ...Object.fromEntries(kept), ...Object.fromEntries(own) };
}
