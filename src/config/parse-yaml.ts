import YAML, { type Document, type ErrorCode } from 'yaml';
import { ConfigError } from '../errors.js';
import { describePosition, type TextPosition } from './text-position.js';

/**
 * What each kind of YAML error means, in words of our own: the yaml package's
 * messages quote the file (a tag, an escape, a stray token), which can be a
 * piece of a secret.
 */
const YAML_PROBLEMS: Readonly<Record<ErrorCode, string>> = {
  ALIAS_PROPS: 'an alias (*) cannot have an anchor or a tag',
  BAD_ALIAS: 'an anchor (&) or alias (*) with an empty or ambiguous name',
  BAD_COLLECTION_TYPE: 'a tag given to the wrong kind of collection',
  BAD_DIRECTIVE: 'a bad % directive',
  BAD_DQ_ESCAPE: 'an invalid escape sequence in a double-quoted string',
  BAD_INDENT: 'bad indentation',
  BAD_PROP_ORDER: 'an anchor or tag before the indicator it belongs after',
  BAD_SCALAR_START: 'a plain value cannot start with this character; quote the value',
  BLOCK_AS_IMPLICIT_KEY: 'a nested mapping where a value was expected; quote a value that holds ": "',
  BLOCK_IN_FLOW: 'a block collection inside a flow collection ([…] or {…})',
  DUPLICATE_KEY: 'map keys must be unique',
  IMPOSSIBLE: 'the YAML parser failed',
  KEY_OVER_1024_CHARS: 'a key longer than 1024 characters',
  MISSING_CHAR: 'a character is missing (a closing quote, a comma, a colon, a space or a -)',
  MULTILINE_IMPLICIT_KEY: 'a key must be on a single line',
  MULTIPLE_ANCHORS: 'a node can have at most one anchor',
  MULTIPLE_DOCS: 'more than one YAML document',
  MULTIPLE_TAGS: 'a node can have at most one tag',
  NON_STRING_KEY: 'a key that is not a string',
  RESOURCE_EXHAUSTION: 'aliases expand to too much data',
  TAB_AS_INDENT: 'tabs are not allowed as indentation',
  TAG_RESOLVE_FAILED: 'an unknown tag: a value that starts with ! must be quoted',
  UNEXPECTED_TOKEN: 'unexpected text',
};

function yamlProblem(file: string, message: string, position?: TextPosition): ConfigError {
  const where = position ? ` ${describePosition(position)}` : '';
  return new ConfigError(file, [{ path: '', message: `invalid YAML${where}: ${message}` }]);
}

/** The offset of the first alias whose anchor does not come before it. */
function unresolvedAliasOffset(doc: Document): number | undefined {
  let offset: number | undefined;
  YAML.visit(doc, {
    Alias(_, alias) {
      if (alias.resolve(doc) !== undefined) return undefined;
      offset = alias.range?.[0];
      return YAML.visit.BREAK;
    },
  });
  return offset;
}

/** The offset of the first merge key (<<) whose value is not a map, an alias of one, or a list of them. */
function badMergeOffset(doc: Document): number | undefined {
  const isMap = (node: unknown): boolean => YAML.isMap(YAML.isAlias(node) ? node.resolve(doc) : node);
  let offset: number | undefined;
  YAML.visit(doc, {
    Pair(_, pair) {
      if (!YAML.isScalar(pair.key) || typeof pair.key.value !== 'symbol') return undefined; // yaml's merge key
      const sources = YAML.isSeq(pair.value) ? pair.value.items : [pair.value];
      if (sources.every(isMap)) return undefined;
      offset = pair.key.range?.[0];
      return YAML.visit.BREAK;
    },
  });
  return offset;
}

/** A YAML config file's content; a syntax error is reported by its line, column and kind, never by the file's text. */
export function parseYamlConfig(file: string, text: string): unknown {
  const lineCounter = new YAML.LineCounter();
  // Merge keys (`<<: *hook`), as in docker-compose files: one sink's settings reused by the next.
  const doc = YAML.parseDocument(text, { prettyErrors: false, uniqueKeys: true, merge: true, lineCounter });
  // A warning is an error here: an unknown tag (`secret: !pa55 word`) would silently keep only part of the value.
  const [first] = [...doc.errors, ...doc.warnings];
  if (first) throw yamlProblem(file, YAML_PROBLEMS[first.code], lineCounter.linePos(first.pos[0]));
  let value: unknown;
  try {
    value = doc.toJS();
  } catch {
    // toJS throws, naming the alias, for an alias without an anchor, a merge key (<<) given no map, or when aliases expand too far.
    const offset = unresolvedAliasOffset(doc);
    if (offset !== undefined) throw yamlProblem(file, 'an alias (*) with no anchor (&) before it', lineCounter.linePos(offset));
    const merge = badMergeOffset(doc);
    if (merge !== undefined) throw yamlProblem(file, 'a merge key (<<) takes a map, an alias of one or a list of them', lineCounter.linePos(merge));
    throw yamlProblem(file, YAML_PROBLEMS.RESOURCE_EXHAUSTION);
  }
  if (value === null || value === undefined) throw new ConfigError(file, [{ path: '', message: 'the file is empty' }]);
  return value;
}
