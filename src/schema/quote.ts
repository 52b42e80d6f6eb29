/** SQL quoting: every name and string from the config goes through these, so nothing in it can inject SQL. */
export const ident = (name: string): string => `"${name.replace(/"/g, '""')}"`;

export function literal(value: string): string {
  if (value.includes('\0')) throw new Error('a name cannot contain a NUL character');
  // standard_conforming_strings is on (the default since 9.1): only quotes need doubling.
  return `'${value.replace(/'/g, "''")}'`;
}

/** A dollar-quote tag that does not occur in `body`. */
export function dollarQuote(body: string, base = 'pgbridge'): string {
  let tag = `$${base}$`;
  for (let i = 0; body.includes(tag); i++) tag = `$${base}${i}$`;
  return `${tag}${body}${tag}`;
}
