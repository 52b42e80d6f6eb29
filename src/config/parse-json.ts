import { iterator, parse as parseJsonTree, type MemberNode, type Node } from '@humanwhocodes/momoa';
import { parse as parseLosslessJson } from 'lossless-json';
import { ConfigError } from '../errors.js';
import { describePosition, positionAt } from './text-position.js';

const POSITION = /at position (\d+)/;

/** The offset a JSON parser's error message gives, if it gives one. */
export function offsetInMessage(err: unknown): number | undefined {
  const match = err instanceof Error ? POSITION.exec(err.message) : null;
  return match ? Number(match[1]) : undefined;
}

/**
 * Where the syntax error is. V8 leaves the position out of its "Unexpected
 * token" messages (an unquoted value, a stray bracket); lossless-json names it
 * for the same text.
 */
function syntaxErrorOffset(text: string, err: unknown): number | undefined {
  const offset = offsetInMessage(err);
  if (offset !== undefined) return offset;
  try {
    parseLosslessJson(text);
    return undefined;
  } catch (losslessErr) {
    return offsetInMessage(losslessErr);
  }
}

/**
 * The first key given twice in one object, and where: JSON.parse keeps the
 * last silently (lossless-json only refuses one whose two values differ), where
 * YAML refuses it. Only for text JSON.parse took.
 */
function duplicateKey(text: string): { key: string; offset: number } | undefined {
  const keysOf = new Map<Node, Set<string>>();
  // Depth first, each node entered before the ones after it in the text: the first duplicate met is the first in the file.
  for (const { node, parent } of iterator(parseJsonTree(text, { mode: 'json' }), ({ phase }) => phase === 'enter')) {
    if (node.type !== 'Member' || parent === undefined) continue;
    const { name } = node as MemberNode;
    const key = name.type === 'String' ? name.value : name.name;
    const keys = keysOf.get(parent) ?? new Set<string>();
    if (keys.has(key)) return { key, offset: name.loc.start.offset };
    keysOf.set(parent, keys.add(key));
  }
  return undefined;
}

/**
 * A JSON config file's content. A syntax error is reported by its line and
 * column only: V8's message quotes the text around it, which can be the start
 * of an unquoted secret.
 */
export function parseJsonConfig(file: string, withMark: string): unknown {
  // A byte order mark, as Windows editors save UTF-8, is no part of the JSON (RFC 8259 §8.1 lets a parser skip it; YAML's does).
  const text = withMark.startsWith('\uFEFF') ? withMark.slice(1) : withMark;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    const offset = syntaxErrorOffset(text, err);
    const where = offset === undefined ? '' : ` ${describePosition(positionAt(text, offset))}`;
    throw new ConfigError(file, [{ path: '', message: `invalid JSON${where}` }]);
  }
  const duplicate = duplicateKey(text);
  if (duplicate) {
    const where = describePosition(positionAt(text, duplicate.offset));
    throw new ConfigError(file, [
      { path: '', message: `invalid JSON ${where}: map keys must be unique; ${JSON.stringify(duplicate.key)} is given twice` },
    ]);
  }
  return value;
}
