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
    const forms = secrets.filter((s) => s.length >= 3).flatMap(jsonForms);
    // Longest first, so a secret containing another is masked whole.
    this.secrets = [...new Set([...this.secrets, ...forms])].sort((a, b) => b.length - a.length);
  }

  scrub(text: string): string {
    let out = text;
    for (const secret of this.secrets) {
      if (out.includes(secret)) out = out.split(secret).join('***');
    }
    // URLs with credentials that were not in the config (e.g. from a driver error).
    // The user may be empty: redis://:password@host.
    return out.replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^:/@\s"]*:)[^@/\s"]+@/gi, '$1***@');
  }

  /**
   * Every string inside a JSON value scrubbed, keys and other values kept: the
   * JSON made of it stays JSON whatever a secret equals (scrubbing the JSON
   * text would turn `"paused":true` into `"paused":***` for a secret `true`).
   */
  scrubStrings(value: unknown): unknown {
    if (typeof value === 'string') return this.scrub(value);
    if (Array.isArray(value)) return value.map((item) => this.scrubStrings(item));
    if (value === null || typeof value !== 'object') return value;
    // As JSON.stringify would see it: a Date is its ISO text.
    if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return this.scrubStrings((value as { toJSON(): unknown }).toJSON());
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, this.scrubStrings(item)]));
  }

  /** Text cut short of its end (a body read up to a limit): the start of a secret the cut went through is masked too. */
  scrubCut(text: string): string {
    const out = this.scrub(text);
    for (const secret of this.secrets) {
      for (let n = Math.min(secret.length - 1, out.length); n >= 3; n--) {
        if (out.endsWith(secret.slice(0, n))) return `${out.slice(0, -n)}***`;
      }
    }
    return out;
  }
}

/**
 * A secret as written and as it stands inside a JSON string: a log line is
 * scrubbed after pino wrote it as JSON, and a far end's JSON error body may
 * quote what it was sent. Escaped as JSON.stringify does (" \ and control
 * characters) and, as Python's json.dumps does by default, everything beyond ASCII too.
 */
function jsonForms(secret: string): string[] {
  const json = JSON.stringify(secret).slice(1, -1);
  const ascii = json.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return [...new Set([secret, json, ascii])];
}
