import pino, { type Logger } from 'pino';
import type { Scrubber } from './secrets.js';

export interface LogOptions {
  readonly level: string;
  readonly pretty: boolean;
}

/** JSON lines on stderr (stdout belongs to the stdout sink), secrets scrubbed from every line. */
export function createLogger(options: LogOptions, scrubber: Scrubber): Logger {
  const hooks = { streamWrite: (line: string) => scrubber.scrub(line) };
  if (options.pretty) {
    return pino({
      level: options.level,
      hooks,
      transport: { target: 'pino-pretty', options: { destination: 2, colorize: process.stderr.isTTY } },
    });
  }
  return pino({ level: options.level, hooks, base: { pid: process.pid } }, pino.destination({ dest: 2, sync: false }));
}
