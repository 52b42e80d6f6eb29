import type { Logger } from 'pino';

/**
 * Log lines said once per key for the whole run: the stream starts again
 * after a lost connection (and the assembler with it), and would otherwise
 * repeat the same warning about the same table each time.
 */
export class OnceLog {
  private readonly said = new Set<string>();

  constructor(private readonly logger: Logger) {}

  warn(key: string, fields: object, message: string): void {
    if (this.first(key)) this.logger.warn(fields, message);
  }

  error(key: string, fields: object, message: string): void {
    if (this.first(key)) this.logger.error(fields, message);
  }

  private first(key: string): boolean {
    if (this.said.has(key)) return false;
    this.said.add(key);
    return true;
  }
}
