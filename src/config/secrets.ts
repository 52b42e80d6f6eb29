/** The password of a connection URL, if it has one (decoded and as written). */
export function urlPassword(url: string | null | undefined): string[] {
  if (!url) return [];
  try {
    const parsed = new URL(url);
    if (!parsed.password) return [];
    return [...new Set([parsed.password, decodeURIComponent(parsed.password)])];
  } catch {
    return [];
  }
}

export function postgresSecrets(url: string | null): string[] {
  const fromEnv = process.env.PGPASSWORD ? [process.env.PGPASSWORD] : [];
  return [...urlPassword(url), ...fromEnv];
}
