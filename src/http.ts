import http from 'node:http';
import type { Logger } from 'pino';
import type { Readiness } from './app.js';
import { loginPage } from './console/assets.js';
import { CLEARED_COOKIE, overHttps, sameOrigin, sessionCookie, TokenAuth } from './console/auth.js';
import { HttpProblem } from './console/http-problem.js';
import { readBody } from './console/read-body.js';
import { JSON_TYPE, SECURITY_HEADERS, TEXT_TYPE } from './console/headers.js';
import type { ConsoleRoutes } from './console/routes.js';
import type { Metrics } from './metrics.js';

const POST_PATHS = new Set(['/login', '/logout', '/api/dead-letters/retry', '/api/dead-letters/discard']);

/**
 * /livez, /readyz, /metrics and the console. With `token` set everything but
 * /livez and /readyz needs it (Bearer header or the console's session cookie).
 */
export function startHttp(
  options: { port: number; host: string; token?: string },
  metrics: Metrics,
  readiness: () => Readiness,
  logger: Logger,
  consoleRoutes?: ConsoleRoutes,
): Promise<http.Server | undefined> {
  if (options.port === 0) return Promise.resolve(undefined);
  const auth = new TokenAuth(options.token ?? '');
  const server = http.createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'HTTP request failed');
      if (!res.headersSent) res.writeHead(500, { 'content-type': TEXT_TYPE }).end('internal error\n');
    });
  });

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value);
    const path = (req.url ?? '/').split('?')[0];
    const method = req.method ?? 'GET';
    // A state-changing route answers no GET: a link or an <img> must not act.
    const allowed = POST_PATHS.has(path) ? ['POST'] : ['GET', 'HEAD'];
    if (!allowed.includes(method)) {
      res.writeHead(405, { allow: allowed.join(', '), 'content-type': TEXT_TYPE }).end(`method not allowed: use ${allowed.join(' or ')}\n`);
      return;
    }
    if (path === '/livez') {
      res.writeHead(200, { 'content-type': JSON_TYPE }).end('{"status":"ok"}');
      return;
    }
    if (path === '/readyz') {
      const state = readiness();
      res
        .writeHead(state.ready ? 200 : 503, { 'content-type': JSON_TYPE })
        .end(JSON.stringify({ status: state.ready ? 'ready' : 'not ready', components: state.components }));
      return;
    }
    if (path === '/login' && method === 'POST') return login(req, res);
    if (!(await auth.allows(req))) {
      if (path === '/' && method !== 'POST') {
        const page = loginPage(/[?&]wrong\b/.test(req.url ?? ''));
        res
          .writeHead(401, {
            // img-src for the page's empty icon: without one, Firefox fetches /favicon.ico under this policy and reports it blocked.
            'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; frame-ancestors 'none'",
            'content-type': page.type,
          })
          .end(page.body);
      } else {
        res
          .writeHead(401, { 'www-authenticate': 'Bearer realm="pgbridge"', 'content-type': JSON_TYPE })
          .end('{"error":"unauthorized: give Authorization: Bearer <http.token>"}');
      }
      return;
    }
    if (path === '/logout' && method === 'POST') {
      if (!sameOrigin(req)) return crossOrigin(res);
      auth.logout(req);
      res.writeHead(303, { location: '/', 'set-cookie': CLEARED_COOKIE }).end();
      return;
    }
    if (path === '/metrics') {
      const text = await metrics.registry.metrics();
      res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text);
      return;
    }
    if (consoleRoutes && (await consoleRoutes.handle(req, res, path))) return;
    res.writeHead(404, { 'content-type': TEXT_TYPE }).end('not found: try /, /livez, /readyz, /metrics\n');
  }

  /** The console's login form: a same-origin POST of the token; a session cookie on success. */
  async function login(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (!auth.enabled) return void res.writeHead(303, { location: '/' }).end();
    if (!sameOrigin(req)) return crossOrigin(res);
    let form: URLSearchParams;
    try {
      form = new URLSearchParams(await readBody(req, 4096));
    } catch (err) {
      if (!(err instanceof HttpProblem)) throw err;
      res.writeHead(err.status, { 'content-type': TEXT_TYPE, connection: 'close' }).end(`${err.message}\n`);
      return;
    }
    const session = await auth.login(req, form.get('token') ?? '');
    if (session === undefined) {
      res.writeHead(303, { location: '/?wrong' }).end();
      return;
    }
    res.writeHead(303, { location: '/', 'set-cookie': sessionCookie(session, overHttps(req)) }).end();
  }

  function crossOrigin(res: http.ServerResponse): void {
    res.writeHead(403, { 'content-type': TEXT_TYPE }).end('cross-origin request refused\n');
  }

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      logger.info(
        { port: options.port, host: options.host, console: consoleRoutes !== undefined, token: auth.enabled },
        'HTTP endpoint: / (console) /livez /readyz /metrics',
      );
      resolve(server);
    });
  });
}
