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
 * A JSON config file's content. A syntax error is reported by its line and
 * column only: V8's message quotes the text around it, which can be the start
 * of an unquoted secret.
 */
export function parseJsonConfig(file: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    const offset = syntaxErrorOffset(text, err);
    const where = offset === undefined ? '' : ` ${describePosition(positionAt(text, offset))}`;
    throw new ConfigError(file, [{ path: '', message: `invalid JSON${where}` }]);
  }
}
