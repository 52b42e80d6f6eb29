import type { ConfigFormat } from './formats.js';

type KeySpec = { readonly format?: unknown; readonly default?: unknown };

/**
 * `port: ${PORT}` should be a number once PORT is known, and `password: ${PW}`
 * the exact text of PW even when that is 0123 or true. So a value that was one
 * whole reference becomes the number or true/false it reads as only where its
 * key refuses the string and takes that value; everywhere else, in lists and
 * maps of free-form entries (headers, TLS options) too, it stays the string.
 */
export function typeEnvValues(
  schema: Readonly<Record<string, unknown>>,
  value: Readonly<Record<string, unknown>>,
  prefix: string,
  wholeReferences: ReadonlySet<string>,
  formats: Readonly<Record<string, ConfigFormat>>,
): Record<string, unknown> {
  const out = { ...value };
  if (wholeReferences.size === 0) return out;
  for (const [key, node] of Object.entries(schema)) {
    const item = value[key];
    if (node === null || typeof node !== 'object') continue;
    const at = prefix ? `${prefix}.${key}` : key;
    if (!('default' in node)) {
      if (item !== null && typeof item === 'object' && !Array.isArray(item)) {
        out[key] = typeEnvValues(node as Record<string, unknown>, item as Record<string, unknown>, at, wholeReferences, formats);
      }
    } else if (typeof item === 'string' && wholeReferences.has(at)) {
      out[key] = typed(node, item, formats);
    }
  }
  return out;
}

function typed(spec: KeySpec, text: string, formats: Readonly<Record<string, ConfigFormat>>): unknown {
  const read = /^-?\d+$/.test(text) ? Number(text) : text === 'true' || text === 'false' ? text === 'true' : undefined;
  return read !== undefined && !takes(spec, text, formats) && takes(spec, read, formats) ? read : text;
}

/** Whether the key takes `value`: by its format, a true/false key and a port (as load.ts checks them) only by their own type. */
function takes(spec: KeySpec, value: unknown, formats: Readonly<Record<string, ConfigFormat>>): boolean {
  const { format } = spec;
  if (format === Boolean || typeof spec.default === 'boolean') return typeof value === 'boolean';
  if (format === 'port' || format === Number) return typeof value === 'number';
  if (format === String) return typeof value === 'string';
  if (Array.isArray(format)) return format.includes(value);
  try {
    if (typeof format === 'function') (format as (value: unknown) => void)(value);
    else if (typeof format === 'string') formats[format]?.validate(value);
    return true;
  } catch {
    return false;
  }
}
