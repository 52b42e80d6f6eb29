/**
 * `${NAME}` and `${NAME:-default}` in any string of the config, replaced from
 * the environment. This is how secrets get in without being written down.
 */
const REFERENCE = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;
const WHOLE_REFERENCE = /^\$\{[A-Za-z_][A-Za-z0-9_]*(?::-[^}]*)?\}$/;

export interface EnvProblem {
  path: string;
  message: string;
}

/** The config with every reference replaced: a string stays a string, whatever the variable holds. */
export interface Substituted {
  readonly value: unknown;
  /** Key paths (`sinks[0].timeout_ms`) whose whole value was one reference: the key's type decides what it becomes (env-types.ts). */
  readonly wholeReferences: ReadonlySet<string>;
}

export function substituteEnv(value: unknown, env: NodeJS.ProcessEnv, problems: EnvProblem[]): Substituted {
  const wholeReferences = new Set<string>();
  const walk = (item: unknown, path: string): unknown => {
    if (typeof item === 'string') {
      if (WHOLE_REFERENCE.test(item)) wholeReferences.add(path);
      return substituteString(item, env, problems, path);
    }
    if (Array.isArray(item)) return item.map((entry, i) => walk(entry, `${path}[${i}]`));
    if (item !== null && typeof item === 'object') {
      const out: Record<string, unknown> = {};
      for (const [key, entry] of Object.entries(item)) out[key] = walk(entry, path ? `${path}.${key}` : key);
      return out;
    }
    return item;
  };
  return { value: walk(value, ''), wholeReferences };
}

function substituteString(text: string, env: NodeJS.ProcessEnv, problems: EnvProblem[], path: string): string {
  return text.replace(REFERENCE, (whole, name: string, fallback: string | undefined) => {
    // As the shell does: `:-` takes the default for an empty variable too; a bare reference keeps the empty value.
    const found = env[name];
    if (found !== undefined && (found !== '' || fallback === undefined)) return found;
    if (fallback !== undefined) return fallback;
    problems.push({ path, message: `environment variable ${name} is not set (write \${${name}:-default} for a default)` });
    return whole;
  });
}
