/** The password of a connection URL, if it has one (as written and, when its % escapes decode, decoded). */
export function urlPassword(url: string | null | undefined): string[] {
  if (!url) return [];
  try {
    const parsed = new URL(url);
    if (!parsed.password) return [];
    return [...new Set([parsed.password, percentDecoded(parsed.password) ?? parsed.password])];
  } catch {
    return [];
  }
}

/** `text` percent-decoded; undefined when a % starts no escape of a whole UTF-8 character (`50%off`). */
export function percentDecoded(text: string): string | undefined {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}

export function postgresSecrets(url: string | null): string[] {
  const fromEnv = process.env.PGPASSWORD ? [process.env.PGPASSWORD] : [];
  return [...urlPassword(url), ...fromEnv];
}
