/** A place in a config file, both counted from 1. */
export interface TextPosition {
  readonly line: number;
  readonly col: number;
}

/** The line and column of a character offset (as JavaScript counts them) in `text`. */
export function positionAt(text: string, offset: number): TextPosition {
  const before = text.slice(0, offset);
  const lineStart = before.lastIndexOf('\n') + 1;
  return { line: before.split('\n').length, col: offset - lineStart + 1 };
}

export function describePosition({ line, col }: TextPosition): string {
  return `(line ${line}, column ${col})`;
}
