/**
 * Last line of defence for secrets: every log line and every error shown to a
 * user passes through a Scrubber holding the config's secret values.
 */
export class Scrubber {
  private secrets: string[] = [];

  constructor(secrets: readonly string[]) {
    this.learn(secrets);
  }

  /** More values to mask (a config read again), besides those it has. */
  learn(secrets: readonly string[]): void {
    // Longest first, so a secret containing another is masked whole.
    this.secrets = [...new Set([...this.secrets, ...secrets.filter((s) => s.length >= 3)])].sort((a, b) => b.length - a.length);
  }

  scrub(text: string): string {
    let out = text;
    for (const secret of this.secrets) {
      if (out.includes(secret)) out = out.split(secret).join('***');
    }
    // URLs with credentials that were not in the config (e.g. from a driver error).
    return out.replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^:/@\s"]+:)[^@/\s"]+@/gi, '$1***@');
  }
}
