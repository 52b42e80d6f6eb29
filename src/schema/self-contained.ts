/**
 * Whether a piece of SQL from the user (a backfill's --where, a capture
 * `where`) stays inside the parentheses it is pasted into: `(${where})` joined
 * with other conditions by AND. `v < 5) OR (true` is valid SQL there and turns
 * `key > $1 AND (v < 5) OR (true)` into "every row". Postgres cannot tell that
 * apart from a condition written that way on purpose, so the text is checked
 * before it goes anywhere: its parentheses balance and never close one they did
 * not open, and it has no `;`, counting only what is outside string literals,
 * quoted identifiers, dollar quotes and comments, read the way Postgres' lexer
 * reads them (scan.l). No npm package does this alone: the real parser
 * (libpg-query, WebAssembly of one Postgres version) accepts that text as a
 * valid condition just as Postgres does, and pg-minify strips comments without
 * checking the rest.
 */

export interface LexOptions {
  /** The session's standard_conforming_strings (on unless a database or role turned it off): off, a backslash escapes in '…' too. */
  readonly standardConformingStrings?: boolean;
}

/** Why `sql` is not one self-contained piece of an expression, with the character it went wrong at (1-based); undefined when it is. */
export function whyNotSelfContained(sql: string, options: LexOptions = {}): string | undefined {
  const backslashInPlainStrings = options.standardConformingStrings === false;
  let depth = 0;
  let i = 0;
  while (i < sql.length) {
    const c = sql[i];
    const at = i + 1;
    if (c === '-' && sql[i + 1] === '-') {
      // Postgres ends it at a carriage return as well as a line feed.
      const end = sql.slice(i).search(/[\n\r]/);
      i = end < 0 ? sql.length : i + end + 1;
    } else if (c === '/' && sql[i + 1] === '*') {
      const end = blockCommentEnd(sql, i);
      if (end < 0) return `a /* comment at character ${at} is never closed`;
      i = end;
    } else if (c === "'") {
      const end = stringEnd(sql, i + 1, backslashInPlainStrings || escapeStringPrefix(sql, i));
      if (end < 0) return `a string literal at character ${at} is never closed`;
      i = end;
    } else if (c === '"') {
      const end = quotedEnd(sql, i + 1, '"');
      if (end < 0) return `a quoted identifier at character ${at} is never closed`;
      i = end;
    } else if (c === '$' && !identifierPart(sql[i - 1])) {
      const tag = dollarTag(sql, i);
      if (tag === undefined) {
        i++;
        continue;
      }
      const end = sql.indexOf(tag, i + tag.length);
      if (end < 0) return `a dollar-quoted string ${tag} at character ${at} is never closed`;
      i = end + tag.length;
    } else if (c === '(') {
      depth++;
      i++;
    } else if (c === ')') {
      if (depth === 0) return `the ")" at character ${at} closes a parenthesis it did not open`;
      depth--;
      i++;
    } else if (c === ';') {
      return `the ";" at character ${at} ends the statement`;
    } else {
      i = identifierPart(c) ? wordEnd(sql, i) : i + 1;
    }
  }
  return depth > 0 ? `${depth === 1 ? 'a "(" is' : `${depth} "(" are`} never closed` : undefined;
}

/** Letters (any non-ASCII character counts as one, as in Postgres), digits, _ and $: what a word (identifier, keyword, number) is made of past its first character. */
function identifierPart(c: string | undefined): boolean {
  return c !== undefined && /[A-Za-z0-9_$\u0080-\uffff]/.test(c);
}

function wordEnd(sql: string, i: number): number {
  while (i < sql.length && identifierPart(sql[i])) i++;
  return i;
}

/** E'…' (or e'…'): the quote at `quote` follows an E that is a word of its own, so backslashes escape inside. */
function escapeStringPrefix(sql: string, quote: number): boolean {
  return (sql[quote - 1] === 'E' || sql[quote - 1] === 'e') && !identifierPart(sql[quote - 2]);
}

/** Past the closing quote of a '…' string whose body starts at `i` ('' is a quote; with `backslash`, \x is any x); -1 when unclosed. */
function stringEnd(sql: string, i: number, backslash: boolean): number {
  while (i < sql.length) {
    const c = sql[i];
    if (backslash && c === '\\') i += 2;
    else if (c === "'") {
      if (sql[i + 1] !== "'") return i + 1;
      i += 2;
    } else i++;
  }
  return -1;
}

/** Past the closing `quote` of a body starting at `i`, a doubled quote standing for one; -1 when unclosed. */
function quotedEnd(sql: string, i: number, quote: string): number {
  for (;;) {
    const end = sql.indexOf(quote, i);
    if (end < 0) return -1;
    if (sql[end + 1] !== quote) return end + 1;
    i = end + 2;
  }
}

/** Past the end of the /* comment starting at `i`; they nest in Postgres. -1 when unclosed. */
function blockCommentEnd(sql: string, i: number): number {
  let depth = 0;
  while (i < sql.length) {
    if (sql[i] === '/' && sql[i + 1] === '*') {
      depth++;
      i += 2;
    } else if (sql[i] === '*' && sql[i + 1] === '/') {
      depth--;
      i += 2;
      if (depth === 0) return i;
    } else i++;
  }
  return -1;
}

/** `$$` or `$tag$` at `i` (a tag is a word that does not start with a digit: `$1` is a parameter); undefined when the `$` starts none. */
function dollarTag(sql: string, i: number): string | undefined {
  DOLLAR_TAG.lastIndex = i;
  return DOLLAR_TAG.exec(sql)?.[0];
}

/** Sticky: matches at lastIndex only, however long the tag. */
const DOLLAR_TAG = /\$(?:[A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/y;
