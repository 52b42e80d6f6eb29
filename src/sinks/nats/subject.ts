/**
 * NATS subjects: dot-separated tokens. The client refuses whitespace itself,
 * but the server stores a publish to "a..b" nowhere (no stream matches it) and
 * one to "a.*" literally, as a subject no consumer filter can single out: all
 * three are refused here, before anything is sent.
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
