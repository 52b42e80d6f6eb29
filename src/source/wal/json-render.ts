/**
 * How `to_json` renders a value of one type (json_categorize_type in
 * Postgres' json.c), built from the catalog: domains are looked through,
 * numbers stay digits, dates and timestamps become ISO 8601, arrays and
 * composites nest. Types with their own cast to json need Postgres itself.
 */
export type JsonKind =
  | { readonly kind: 'number' }
  | { readonly kind: 'bool' }
  | { readonly kind: 'json' }
  | { readonly kind: 'date' }
  | { readonly kind: 'timestamp' }
  | { readonly kind: 'timestamptz' }
  | { readonly kind: 'string' }
  | { readonly kind: 'array'; readonly element: JsonKind; readonly delimiter: string }
  | { readonly kind: 'composite'; readonly fields: readonly { readonly name: string; readonly type: JsonKind }[] }
  /** A non-built-in type with a cast to json (hstore, …): only Postgres can apply it. */
  | { readonly kind: 'server' };

const JSON_NUMBER = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?$/;

/** `text` is the type's output with the render settings (schema/render-settings.ts: the walsender's too); returns JSON text. */
export function renderValue(text: string, type: JsonKind): string {
  switch (type.kind) {
    case 'number':
      // NaN and ±Infinity are not JSON numbers: to_json makes them strings.
      return JSON_NUMBER.test(text) ? text : JSON.stringify(text);
    case 'bool':
      return text === 't' ? 'true' : 'false';
    case 'json':
      return text;
    case 'date':
      return JSON.stringify(text);
    case 'timestamp':
      return JSON.stringify(isoDateTime(text, false));
    case 'timestamptz':
      return JSON.stringify(isoDateTime(text, true));
    case 'string':
      // JSON.stringify escapes exactly what escape_json does (", \, control characters as \b \f \n \r \t or \u00xx).
      return JSON.stringify(text);
    case 'array':
      return renderArray(text, type.element, type.delimiter);
    case 'composite':
      return renderComposite(text, type.fields);
    case 'server':
      throw new Error('a type with a cast to json is rendered by Postgres');
  }
}

export function needsServer(type: JsonKind): boolean {
  switch (type.kind) {
    case 'server':
      return true;
    case 'array':
      return needsServer(type.element);
    case 'composite':
      return type.fields.some((f) => needsServer(f.type));
    default:
      return false;
  }
}

/**
 * ISO output ("2026-01-01 10:00:00.5+05:30", "0044-03-15 10:00:00 BC") to the
 * XSD form to_json writes ("2026-01-01T10:00:00.5+05:30"): a T for the space
 * and the zone always with minutes. infinity stays as it is.
 */
function isoDateTime(text: string, zoned: boolean): string {
  const space = text.indexOf(' ');
  if (space < 0) return text; // infinity, -infinity
  const out = `${text.slice(0, space)}T${text.slice(space + 1)}`;
  if (!zoned) return out;
  // The zone is the last "+hh[:mm[:ss]]" (before " BC"): hours alone get ":00".
  const end = out.endsWith(' BC') ? out.length - 3 : out.length;
  const sign = end - 3;
  return out[sign] === '+' || out[sign] === '-' ? `${out.slice(0, end)}:00${out.slice(end)}` : out;
}

function renderArray(text: string, element: JsonKind, delimiter: string): string {
  let at = 0;
  // Non-default bounds are written as "[0:2]={…}"; to_json ignores them.
  if (text[0] === '[') at = text.indexOf('=') + 1;
  const parser = { text, at };
  const out = parseArrayLevel(parser, element, delimiter);
  return out;
}

function parseArrayLevel(p: { text: string; at: number }, element: JsonKind, delimiter: string): string {
  if (p.text[p.at] !== '{') throw new Error(`array text: expected { at ${p.at}`);
  p.at++;
  const parts: string[] = [];
  if (p.text[p.at] === '}') {
    p.at++;
    return '[]';
  }
  for (;;) {
    const c = p.text[p.at];
    if (c === '{') parts.push(parseArrayLevel(p, element, delimiter));
    else if (c === '"') parts.push(renderValue(readQuoted(p), element));
    else {
      let end = p.at;
      while (end < p.text.length && p.text[end] !== delimiter && p.text[end] !== '}') end++;
      const raw = p.text.slice(p.at, end);
      p.at = end;
      parts.push(raw === 'NULL' ? 'null' : renderValue(raw, element));
    }
    const next = p.text[p.at++];
    if (next === '}') break;
    if (next !== delimiter) throw new Error(`array text: unexpected ${JSON.stringify(next)}`);
  }
  return `[${parts.join(',')}]`;
}

/** A double-quoted array element: backslash escapes any character. */
function readQuoted(p: { text: string; at: number }): string {
  let out = '';
  p.at++;
  for (;;) {
    const c = p.text[p.at++];
    if (c === undefined) throw new Error('array text: unterminated quote');
    if (c === '\\') out += p.text[p.at++];
    else if (c === '"') return out;
    else out += c;
  }
}

/** Record output: "(1,"a ""b""",)": an empty unquoted field is NULL; inside quotes "" and \x stand for " and x. */
function renderComposite(text: string, fields: readonly { readonly name: string; readonly type: JsonKind }[]): string {
  if (text[0] !== '(' || text[text.length - 1] !== ')') throw new Error('record text: expected (…)');
  const values: Array<string | null> = [];
  let at = 1;
  const end = text.length - 1;
  for (;;) {
    let value = '';
    let quoted = false;
    while (at < end && text[at] !== ',') {
      const c = text[at];
      if (c === '"') {
        quoted = true;
        at++;
        while (at < end) {
          const q = text[at];
          if (q === '\\') {
            value += text[at + 1];
            at += 2;
          } else if (q === '"') {
            if (text[at + 1] === '"') {
              value += '"';
              at += 2;
            } else {
              at++;
              break;
            }
          } else {
            value += q;
            at++;
          }
        }
      } else {
        value += c;
        at++;
      }
    }
    values.push(value === '' && !quoted ? null : value);
    if (at >= end) break;
    at++; // the comma
  }
  const parts = fields.map((f, i) => {
    const v = values[i] ?? null;
    return `${JSON.stringify(f.name)}:${v === null ? 'null' : renderValue(v, f.type)}`;
  });
  return `{${parts.join(',')}}`;
}
