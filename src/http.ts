import http from 'node:http';
import type { Logger } from 'pino';
import type { Readiness } from './app.js';
import type { Metrics } from './metrics.js';

/** /livez, /readyz and /metrics. */
export function startHttp(
  options: { port: number; host: string },
  metrics: Metrics,
  readiness: () => Readiness,
  logger: Logger,
): Promise<http.Server | undefined> {
  if (options.port === 0) return Promise.resolve(undefined);
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/livez') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
    } else if (path === '/readyz') {
      const state = readiness();
      res
        .writeHead(state.ready ? 200 : 503, { 'content-type': 'application/json' })
        .end(JSON.stringify({ status: state.ready ? 'ready' : 'not ready', components: state.components }));
    } else if (path === '/metrics') {
      metrics.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
        () => res.writeHead(500).end(),
      );
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /livez, /readyz, /metrics\n');
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      logger.info({ port: options.port, host: options.host }, 'HTTP endpoint: /livez /readyz /metrics');
      resolve(server);
    });
  });
}
