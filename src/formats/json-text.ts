import { parse, stringify, isLosslessNumber } from 'lossless-json';

/** JSON string literal for a JS string. */
export const quote = (value: string): string => JSON.stringify(value);

/** True when `text` is one valid JSON value (used to embed a NOTIFY payload verbatim). */
export function isJson(text: string): boolean {
  if (text.trim() === '') return false;
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/**
 * The values of a primary-key object such as {"id":9007199254740993,"region":"eu"},
 * each as text with every digit kept: ["9007199254740993", "eu"].
 */
export function keyValues(keyJson: string): string[] {
  const parsed = parse(keyJson) as Record<string, unknown>;
  return Object.values(parsed).map((value) => {
    if (typeof value === 'string') return value;
    if (isLosslessNumber(value)) return value.toString();
    return stringify(value) ?? 'null';
  });
}
