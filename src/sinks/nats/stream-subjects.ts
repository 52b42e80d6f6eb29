/**
 * The subjects a declared stream is created over. JetStream refuses a stream
 * whose own subjects overlap (err_code 10052, `subject "x.*.*" overlaps with
 * "x.ch.*"`), so a wildcard that another one covers is left out: the broader
 * one takes its subjects anyway. Two that overlap without either covering the
 * other (`x.*.y`, `x.a.*`) are a config error rather than widened to a third
 * (`x.*.*`): that stream would take subjects neither template makes, which
 * other publishers may use or another stream may already hold, and it
 * outlives the config.
 *
 * Filters are NATS subject filters: dot-separated tokens, `*` one token, a
 * last `>` one or more; any other token, `a*b` included, is literal.
 */
import { subjectWildcard } from './subject.js';

const isRest = (tokens: readonly string[], i: number): boolean => tokens[i] === '>' && i === tokens.length - 1;

/** Whether every subject `narrower` matches, `broader` matches too. */
export function filterCovers(broader: string, narrower: string): boolean {
  const wide = broader.split('.');
  const narrow = narrower.split('.');
  for (const [i, token] of wide.entries()) {
    if (isRest(wide, i)) return i < narrow.length;
    if (i >= narrow.length || isRest(narrow, i)) return false;
    if (token !== '*' && narrow[i] !== token) return false;
  }
  return wide.length === narrow.length;
}

/** Whether some subject matches both filters. */
export function filtersOverlap(a: string, b: string): boolean {
  const left = a.split('.');
  const right = b.split('.');
  for (let i = 0; i < Math.min(left.length, right.length); i++) {
    if (isRest(left, i) || isRest(right, i)) return true;
    if (left[i] !== '*' && right[i] !== '*' && left[i] !== right[i]) return false;
  }
  return left.length === right.length;
}

/** Each filter that no other one covers, in the order given, once. */
export function uncoveredFilters(filters: readonly string[]): string[] {
  const distinct = [...new Set(filters)];
  return distinct.filter((filter) => !distinct.some((other) => other !== filter && filterCovers(other, filter)));
}

type Templates = { readonly subject: string; readonly channel_subject: string };

/** The subjects a declared stream is created over: the templates' wildcards, those another covers left out. */
export function streamSubjects(config: Templates): string[] {
  return uncoveredFilters([subjectWildcard(config.subject), subjectWildcard(config.channel_subject)]);
}

/** Why no stream can be declared over the two templates' wildcards, or undefined when one can. */
export function streamSubjectsProblem(config: Templates): string | undefined {
  const [first, second] = streamSubjects(config);
  if (second === undefined || !filtersOverlap(first, second)) return undefined;
  return (
    `cannot create a stream over subject ${JSON.stringify(config.subject)} (${first}) and channel_subject ${JSON.stringify(config.channel_subject)} (${second}): ` +
    'they overlap without one covering the other, which JetStream refuses; change one so that they differ in a fixed token, ' +
    'or create the stream yourself over subjects that take both and set declare: false'
  );
}
