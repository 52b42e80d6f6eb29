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

export function substituteEnv(value: unknown, env: NodeJS.ProcessEnv, problems: EnvProblem[], path = ''): unknown {
  if (typeof value === 'string') return substituteString(value, env, problems, path);
  if (Array.isArray(value)) return value.map((item, i) => substituteEnv(item, env, problems, `${path}[${i}]`));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      out[key] = substituteEnv(item, env, problems, path ? `${path}.${key}` : key);
    }
    return out;
  }
  return value;
}

function substituteString(text: string, env: NodeJS.ProcessEnv, problems: EnvProblem[], path: string): unknown {
  const replaced = text.replace(REFERENCE, (whole, name: string, fallback: string | undefined) => {
    // As the shell does: `:-` takes the default for an empty variable too; a bare reference keeps the empty value.
    const found = env[name];
    if (found !== undefined && (found !== '' || fallback === undefined)) return found;
    if (fallback !== undefined) return fallback;
    problems.push({ path, message: `environment variable ${name} is not set (write \${${name}:-default} for a default)` });
    return whole;
  });
  // `port: ${PORT}` should still be a number once PORT is known.
  if (WHOLE_REFERENCE.test(text)) {
    if (/^-?\d+$/.test(replaced)) return Number(replaced);
    if (replaced === 'true' || replaced === 'false') return replaced === 'true';
  }
  return replaced;
}
