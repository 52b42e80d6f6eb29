/**
 * NATS subjects: dot-separated tokens. The client refuses whitespace itself,
 * but the server stores a publish to "a..b" nowhere (no stream matches it) and
 * one to "a.*" literally, as a subject no consumer filter can single out: all
 * three are refused here, before anything is sent. A stream takes the subjects
 * its filters match, where `*` is one token: a dot in a schema, table or
 * channel name adds a token, so such a subject can fall outside the stream.
 */

/** Why `subject` cannot be published to, or undefined when it can. */
export function subjectProblem(subject: string): string | undefined {
  const why = (reason: string): string => `subject ${JSON.stringify(subject)} ${reason}; change the sink's subject template`;
  if (subject === '') return why('is empty');
  if (/\s/.test(subject)) return why('contains whitespace, which NATS subjects cannot');
  const tokens = subject.split('.');
  if (tokens.some((token) => token === '')) return why('has an empty token (a leading, trailing or double dot)');
  if (tokens.some((token) => token === '*' || token === '>')) return why('has a wildcard token (* or >), which a publish cannot use');
  return undefined;
}

/** The subject filter a template's subjects fall under: each token holding a placeholder becomes `*`. */
export function subjectWildcard(template: string): string {
  return template
    .split('.')
    .map((token) => (/\{[^{}]*\}/.test(token) ? '*' : token))
    .join('.');
}

/** Whether `subject` (no wildcards) falls under the stream subject filter `filter`: `*` matches one token, a last `>` one or more. */
export function subjectMatches(subject: string, filter: string): boolean {
  const tokens = subject.split('.');
  const filterTokens = filter.split('.');
  for (const [i, token] of filterTokens.entries()) {
    if (token === '>' && i === filterTokens.length - 1) return tokens.length > i;
    if (i >= tokens.length || (token !== '*' && token !== tokens[i])) return false;
  }
  return tokens.length === filterTokens.length;
}

/** Why stream `stream`, listening on `filters`, cannot take `subject`; undefined when a filter matches it. */
export function outsideStream(subject: string, stream: string, filters: readonly string[]): string | undefined {
  if (filters.some((filter) => subjectMatches(subject, filter))) return undefined;
  const listens = filters.length === 0 ? 'listens on no subject' : `listens on (${filters.join(', ')})`;
  const oneToken = filters.some((filter) => filter.split('.').includes('*'))
    ? ', where * stands for exactly one token (a dot in a schema, table or channel name makes more)'
    : '';
  return `no stream took the message: subject ${JSON.stringify(subject)} is not one stream ${JSON.stringify(stream)} ${listens}${oneToken}; change the sink's subject template or the stream's subjects`;
}
