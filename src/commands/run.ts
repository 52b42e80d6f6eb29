import { Bridge } from '../app.js';
import type { BridgeConfig } from '../config/types.js';
import { ConsoleRoutes } from '../console/routes.js';
import { startHttp } from '../http.js';
import { createLogger } from '../logger.js';
import { Metrics } from '../metrics.js';
import type { Scrubber } from '../secrets.js';
import { VERSION } from '../version.js';

export async function runCommand(config: BridgeConfig, scrubber: Scrubber): Promise<number> {
  const logger = createLogger(config.log, scrubber);
  const metrics = new Metrics(VERSION);
  const bridge = new Bridge(config, logger, metrics, scrubber);
  const consoleRoutes =
    config.http.port === 0 ? undefined : new ConsoleRoutes(config, () => bridge.status(), metrics, scrubber, logger.child({ component: 'console' }));
  const log = logger.child({ component: 'process' });
  // Listening for the signals before anything starts: one that comes while delivery starts is a stop like any other.
  const stopRequested = new Promise<Error | undefined>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      log.info({ signal }, 'shutting down');
      resolve(undefined);
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  });
  const server = await startHttp(config.http, metrics, () => bridge.readiness(), logger.child({ component: 'http' }), consoleRoutes);
  bridge.start();

  const failure = await Promise.race([stopRequested, bridge.failed]);
  if (failure) log.error({ err: failure.message, code: (failure as { code?: string }).code }, 'cannot run');
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
  return failure ? 1 : 0;
}
