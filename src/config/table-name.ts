/**
 * "schema.table", a bare "table" (schema public), or double-quoted parts for
 * names holding dots or quotes: "my.schema"."Order ""X""". Unquoted parts are
 * taken as written (no case folding), so `Sales.Order Items` works too.
 */
export interface TableName {
  readonly schema: string;
  readonly table: string;
}

export function parseTableName(text: string): TableName {
  const parts: string[] = [];
  let i = 0;
  while (i < text.length) {
    if (text[i] === '"') {
      let part = '';
      i++;
      for (;;) {
        if (i >= text.length) throw new Error(`unterminated quoted name in ${JSON.stringify(text)}`);
        if (text[i] === '"') {
          if (text[i + 1] === '"') {
            part += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        part += text[i++];
      }
      parts.push(part);
    } else {
      const dot = text.indexOf('.', i);
      const end = dot === -1 ? text.length : dot;
      parts.push(text.slice(i, end).trim());
      i = end;
    }
    if (i < text.length) {
      if (text[i] !== '.') throw new Error(`expected "." after a quoted name in ${JSON.stringify(text)}`);
      i++;
      if (i === text.length) throw new Error(`name ends with "." in ${JSON.stringify(text)}`);
    }
  }
  if (parts.length === 0 || parts.length > 2 || parts.some((p) => p === '')) {
    throw new Error(`${JSON.stringify(text)} is not "schema.table" or "table"`);
  }
  const tooLong = parts.find((p) => Buffer.byteLength(p) > MAX_NAME_BYTES);
  if (tooLong !== undefined) {
    // Postgres would truncate it: install and the trigger modes' events would name one table, the WAL and `check` another.
    throw new Error(
      `${JSON.stringify(tooLong)} is ${Buffer.byteLength(tooLong)} bytes; Postgres names are at most ${MAX_NAME_BYTES} (it would truncate this one to ${JSON.stringify(truncatedName(tooLong))})`,
    );
  }
  return parts.length === 1 ? { schema: 'public', table: parts[0] } : { schema: parts[0], table: parts[1] };
}

/** NAMEDATALEN - 1. */
const MAX_NAME_BYTES = 63;

/** The name as Postgres keeps it: its first 63 bytes, cut before a character that does not fit whole. */
function truncatedName(name: string): string {
  let kept = '';
  for (const char of name) {
    if (Buffer.byteLength(kept + char) > MAX_NAME_BYTES) break;
    kept += char;
  }
  return kept;
}

export const qualifiedName = (t: TableName): string => `${t.schema}.${t.table}`;

/** One table, one key: "a.b".c and a."b.c" have the same qualifiedName. */
export const tableKey = (t: TableName): string => `${t.schema}\0${t.table}`;
