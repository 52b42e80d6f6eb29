/**
 * skor's gen-triggers.py pastes schema, table and column names into its SQL
 * as they stand in triggers.json, unquoted, so Postgres reads each one as it
 * reads any identifier: one written in double quotes as written (`""` being a
 * quote), any other folded to lower case. Postgres folds only the ASCII
 * letters in a UTF-8 database, and cuts a name to 63 bytes.
 */
const MAX_IDENTIFIER_BYTES = 63;
const QUOTED = /^"((?:[^"]|"")*)"$/;

/** The name the object skor made a trigger on (or for) has in the catalog. */
export function skorIdentifier(written: string): string {
  const quoted = QUOTED.exec(written);
  const name = quoted ? quoted[1].replace(/""/g, '"') : written.replace(/[A-Z]+/g, (letters) => letters.toLowerCase());
  return clipToBytes(name, MAX_IDENTIFIER_BYTES);
}

/** The longest prefix of whole characters that fits in `max` UTF-8 bytes. */
function clipToBytes(text: string, max: number): string {
  if (Buffer.byteLength(text) <= max) return text;
  let clipped = '';
  for (const char of text) {
    if (Buffer.byteLength(clipped + char) > max) break;
    clipped += char;
  }
  return clipped;
}
