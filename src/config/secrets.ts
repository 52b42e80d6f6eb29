/** The password of a connection URL, if it has one (as written and, when its % escapes decode, decoded). */
export function urlPassword(url: string | null | undefined): string[] {
  if (!url) return [];
  try {
    const parsed = new URL(url);
    return parsed.password ? asWrittenAndDecoded(parsed.password) : [];
  } catch {
    return [];
  }
}

/** A secret from a URL as written and, when its % escapes decode, decoded: neither form may leak. */
export function asWrittenAndDecoded(secret: string): string[] {
  return [...new Set([secret, percentDecoded(secret) ?? secret])];
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
