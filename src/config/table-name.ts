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
  // Over 63 characters is over 63 bytes in every server encoding; a shorter name may still be too long in
  // bytes (multibyte UTF-8): install and check ask the server (nameFitsSql).
  const tooLong = parts.find((p) => [...p].length > MAX_NAME_BYTES);
  if (tooLong !== undefined) {
    throw new Error(
      `${JSON.stringify(tooLong)} is ${[...tooLong].length} characters; Postgres names are at most ${MAX_NAME_BYTES} bytes (it would truncate it)`,
    );
  }
  return parts.length === 1 ? { schema: 'public', table: parts[0] } : { schema: parts[0], table: parts[1] };
}

/** NAMEDATALEN - 1, in bytes of the server's encoding. */
const MAX_NAME_BYTES = 63;

export const qualifiedName = (t: TableName): string => `${t.schema}.${t.table}`;

/** One table, one key: "a.b".c and a."b.c" have the same qualifiedName. */
export const tableKey = (t: TableName): string => `${t.schema}\0${t.table}`;
