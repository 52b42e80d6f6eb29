import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type http from 'node:http';
import { clientKey } from './client-key.js';

export const SESSION_COOKIE = 'pgbridge_session';
const SESSION_MS = 12 * 3600_000;
/**
 * Checks of open connections one client may have waiting; its tokens past
 * that are refused unchecked (after the delay). Many clients can share an
 * address (a reverse proxy's, the host's own `pgbridge status`): an unbounded
 * queue let a flood of guesses delay their right tokens without end.
 */
const MAX_WAITING = 4;

const digest = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

/**
 * http.token: the Bearer header or a console session. A wrong token is
 * answered only after `failureDelayMs`, and the tokens one client presents
 * are checked one after another, so guessing in parallel gains nothing: were
 * a right one answered at once, a guesser would know it among a thousand sent
 * together without waiting for the rest. Other clients, and live sessions, never wait;
 * a client with MAX_WAITING checks waiting has its further tokens refused unchecked.
 */
export class TokenAuth {
  private readonly expected: Buffer | undefined;
  private readonly sessions = new Map<string, number>();
  /** Per client (clientKey): the end of its queue of checks, and the requests in it. */
  private readonly queues = new Map<string, { last: Promise<unknown>; waiting: Set<http.IncomingMessage> }>();

  constructor(
    token: string,
    private readonly failureDelayMs = 1000,
  ) {
    this.expected = token === '' ? undefined : digest(token);
  }

  get enabled(): boolean {
    return this.expected !== undefined;
  }

  /** True when the request may pass: no token configured, the right Bearer token, or a live session. */
  async allows(req: http.IncomingMessage): Promise<boolean> {
    if (!this.enabled) return true;
    const session = cookie(req, SESSION_COOKIE);
    // A session id is 256 random bits, not guessable: an unknown one (e.g. from before a restart) needs no delay.
    if (session !== undefined && this.sessionLive(session)) return true;
    const header = req.headers.authorization;
    if (header === undefined) return false;
    const bearer = /^Bearer\s+(.+)$/i.exec(header.trim());
    return this.check(req, bearer ? bearer[1] : '');
  }

  /** A new session id for the right token, undefined (slowly) for a wrong one. */
  async login(req: http.IncomingMessage, presented: string): Promise<string | undefined> {
    if (!(await this.check(req, presented))) return undefined;
    const id = randomBytes(32).toString('base64url');
    this.sessions.set(id, Date.now() + SESSION_MS);
    return id;
  }

  logout(req: http.IncomingMessage): void {
    const session = cookie(req, SESSION_COOKIE);
    if (session !== undefined) this.sessions.delete(session);
  }

  private sessionLive(id: string): boolean {
    const until = this.sessions.get(id);
    if (until === undefined) return false;
    if (until > Date.now()) return true;
    this.sessions.delete(id);
    return false;
  }

  private async check(req: http.IncomingMessage, presented: string): Promise<boolean> {
    const right = this.expected !== undefined && timingSafeEqual(digest(presented), this.expected);
    const client = clientKey(req.socket?.remoteAddress);
    const queue = this.queues.get(client) ?? { last: Promise.resolve(), waiting: new Set<http.IncomingMessage>() };
    // Refused whether right or wrong: that tells a guesser nothing.
    if ([...queue.waiting].filter(open).length >= MAX_WAITING) return this.refuse();
    this.queues.set(client, queue);
    queue.waiting.add(req);
    // A guess whose connection closed before its turn is never answered: it holds up nothing behind it.
    // One checked while open takes the whole delay even if closed meanwhile, else closing would speed guessing.
    const answer = queue.last.then(() => right || (open(req) ? this.refuse() : false));
    queue.last = answer;
    try {
      return await answer;
    } finally {
      queue.waiting.delete(req);
      if (queue.waiting.size === 0) this.queues.delete(client);
    }
  }

  private refuse(): Promise<false> {
    return new Promise((resolve) => setTimeout(() => resolve(false), this.failureDelayMs));
  }
}

const open = (req: http.IncomingMessage): boolean => req.socket?.destroyed !== true;

/** Secure when the browser came over HTTPS: then it must never send the session over plain HTTP to the same host. */
export function sessionCookie(id: string, secure = false): string {
  return `${SESSION_COOKIE}=${id}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${SESSION_MS / 1000}${secure ? '; Secure' : ''}`;
}

/**
 * Whether the browser sees this endpoint over HTTPS: our own TLS (never so
 * far), a proxy's X-Forwarded-Proto, or the scheme of the page's Origin. Each can be
 * forged only by a client that is not a browser, and a Secure cookie then merely fails to come back.
 */
export function overHttps(req: http.IncomingMessage): boolean {
  if ((req.socket as { encrypted?: boolean }).encrypted) return true;
  const proto = req.headers['x-forwarded-proto'];
  if (typeof proto === 'string' && proto.split(',')[0].trim().toLowerCase() === 'https') return true;
  return req.headers.origin?.toLowerCase().startsWith('https://') ?? false;
}

export const CLEARED_COOKIE = `${SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`;

function cookie(req: http.IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq !== -1 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/**
 * A state-changing POST must come from the console's own page: a cross-site
 * page's form or fetch carries its own Origin (and Sec-Fetch-Site), and a
 * SameSite=Strict cookie is not sent with it anyway. Tools without a browser
 * (curl with the Bearer token) send neither header.
 *
 * Sec-Fetch-Site, which no page can set, is the browser's own word and
 * decides when it is there: behind a proxy that rewrites Host (nginx's default)
 * Origin names the proxy, not the Host this server is sent. Only a browser
 * without it (Safari before 16.4) is judged by Origin against Host.
 */
export function sameOrigin(req: http.IncomingMessage): boolean {
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined) return site === 'same-origin' || site === 'none';
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}
