import type { Logger } from 'pino';
import { Bridge } from '../app.js';
import { loadConfig } from '../config/load.js';
import type { BridgeConfig } from '../config/types.js';
import { ConsoleRoutes } from '../console/routes.js';
import { startHttp } from '../http.js';
import { createLogger } from '../logger.js';
import { Metrics } from '../metrics.js';
import type { Scrubber } from '../secrets.js';
import { VERSION } from '../version.js';

/** How one run of the bridge ended: the process's exit status, or the config to run with next. */
type RunEnd = { readonly exit: number } | { readonly next: BridgeConfig };

/** What lives as long as the process: the log and the metrics go on across a restart with the config file read again. */
interface Process {
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly scrubber: Scrubber;
  /** Settles with the first SIGTERM or SIGINT. */
  readonly stopRequested: Promise<NodeJS.Signals>;
}

export async function runCommand(config: BridgeConfig, scrubber: Scrubber): Promise<number> {
  let signal: NodeJS.Signals | undefined;
  // Listening for the signals before anything starts: one that comes while delivery starts is a stop like any other.
  const stopRequested = new Promise<NodeJS.Signals>((resolve) => {
    const onSignal = (received: NodeJS.Signals): void => {
      signal = received;
      resolve(received);
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  });
  const running: Process = { logger: createLogger(config.log, scrubber), metrics: new Metrics(VERSION), scrubber, stopRequested };
  for (;;) {
    const end = await runOnce(config, running);
    if ('exit' in end) return end.exit;
    // A signal while delivery stopped for the restart: the process stops instead.
    if (signal !== undefined) {
      running.logger.child({ component: 'process' }).info({ signal }, 'shutting down');
      return 0;
    }
    // What the earlier config held stays secret too: its values may still be in a driver's error.
    scrubber.learn(end.next.secrets);
    config = end.next;
    running.metrics.keepSinks(config.sinks.map((s) => s.name));
  }
}

/**
 * The bridge, its HTTP endpoints and console, until a signal, a failure, or
 * a restart with the config file read again (an install since start added a
 * table it captures): then everything stops as on SIGTERM and starts again.
 */
async function runOnce(config: BridgeConfig, { logger, metrics, scrubber, stopRequested }: Process): Promise<RunEnd> {
  const bridge = new Bridge(config, logger, metrics, scrubber, () => loadConfig(config.file));
  const consoleRoutes =
    config.http.port === 0 ? undefined : new ConsoleRoutes(config, () => bridge.status(), metrics, scrubber, logger.child({ component: 'console' }));
  const log = logger.child({ component: 'process' });
  const server = await startHttp(config.http, metrics, () => bridge.readiness(), logger.child({ component: 'http' }), consoleRoutes);
  bridge.start();

  const end = await Promise.race([
    stopRequested.then((signal) => ({ signal })),
    bridge.failed.then((failure) => ({ failure })),
    bridge.restart.then((next) => ({ next })),
  ]);
  if ('signal' in end) log.info({ signal: end.signal }, 'shutting down');
  if ('failure' in end) log.error({ err: end.failure.message, code: (end.failure as { code?: string }).code }, 'cannot run');
  if ('next' in end) log.info({ file: config.file }, 'stopping delivery to start it again with the config file');
  // A second signal, or a stop that hangs, must not keep the process forever.
  const hardStop = setTimeout(() => {
    log.error('shutdown took too long, exiting');
    process.exit(1);
  }, config.shutdownTimeoutMs + 5000);
  hardStop.unref();
  await bridge.stop();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  await consoleRoutes?.close();
  clearTimeout(hardStop);
  log.info('stopped');
  logger.flush();
  if ('next' in end) return { next: end.next };
  return { exit: 'failure' in end ? 1 : 0 };
}
