import type http from 'node:http';
import type pg from 'pg';
import type { Logger } from 'pino';
import type { BridgeStatus } from '../app.js';
import type { BridgeConfig } from '../config/types.js';
import { deadLetterEvent, deadLetterSummaries, discardDeadLetters, retryDeadLetters } from '../delivery/dead-letter-store.js';
import { errorMessage } from '../errors.js';
import type { Metrics } from '../metrics.js';
import { createPool, withPooledClient } from '../postgres.js';
import type { Scrubber } from '../secrets.js';
import { consoleAssets } from './assets.js';
import { sameOrigin } from './auth.js';
import { databaseFacts, type DatabaseFacts } from './database-facts.js';
import { DeliveryHistory } from './history.js';
import { JSON_TYPE } from './headers.js';
import { HttpProblem } from './http-problem.js';
import { sampleStatusGauges } from './status-gauges.js';
import { gaugeValue, sinkCounters } from './metric-facts.js';
import { readBody } from './read-body.js';
import { liveReport, type StatusReport } from './status-report.js';

const MAX_BODY = 64 * 1024;
const MAX_SELECTION = 1000;
const LIST_LIMIT = 500;
/** Postgres is read at most this often however many consoles poll. */
const FACTS_TTL_MS = 1000;

/**
 * The console: its page and assets, GET /api/status, and with http.token the
 * dead letters (list, event, retry, discard). Authentication is the server's
 * job (http.ts); this only answers requests that passed it,
 * and the server has set SECURITY_HEADERS on each.
 */
export class ConsoleRoutes {
  private readonly pool: pg.Pool;
  private readonly history: DeliveryHistory;
  private facts: { readonly at: number; readonly value: Promise<DatabaseFacts> } | undefined;
  private readonly stopGauges: () => void;

  constructor(
    private readonly config: BridgeConfig,
    private readonly bridge: () => BridgeStatus,
    private readonly metrics: Metrics,
    private readonly scrubber: Scrubber,
    private readonly logger: Logger,
  ) {
    this.pool = createPool(config, 'console', { max: 2 });
    this.pool.on('error', () => {});
    this.history = new DeliveryHistory(
      metrics,
      config.sinks.map((s) => s.name),
    );
    this.history.start();
    this.stopGauges = sampleStatusGauges(config, metrics, bridge, () => this.databaseFacts());
  }

  async close(): Promise<void> {
    this.history.stop();
    this.stopGauges();
    await this.pool.end().catch(() => {});
  }

  /** Answers `path` if it is the console's; false when it is not. */
  async handle(req: http.IncomingMessage, res: http.ServerResponse, path: string): Promise<boolean> {
    const asset = req.method === 'GET' || req.method === 'HEAD' ? consoleAssets().get(path) : undefined;
    if (asset) {
      res.writeHead(200, { 'content-type': asset.type, 'content-length': asset.body.length }).end(req.method === 'HEAD' ? undefined : asset.body);
      return true;
    }
    if (!path.startsWith('/api/')) return false;
    try {
      const body = await this.api(req, path);
      res.writeHead(200, { 'content-type': JSON_TYPE }).end(typeof body === 'string' ? body : JSON.stringify(body));
    } catch (err) {
      const status = err instanceof HttpProblem ? err.status : 500;
      if (status === 500) this.logger.warn({ path, err: this.scrubber.scrub(errorMessage(err)) }, 'console request failed');
      const message = err instanceof HttpProblem ? err.message : `failed: ${this.scrubber.scrub(errorMessage(err))}`;
      // A body left unread (over the limit) must not be read on for the next request of a kept-alive connection.
      const close = status === 413 ? { connection: 'close' } : {};
      res.writeHead(status, { 'content-type': JSON_TYPE, ...close }).end(JSON.stringify({ error: message }));
    }
    return true;
  }

  async status(): Promise<StatusReport> {
    let database: DatabaseFacts | undefined;
    let postgresError: string | undefined;
    try {
      database = await this.databaseFacts();
    } catch (err) {
      postgresError = this.scrubber.scrub(errorMessage(err));
    }
    return liveReport(this.config, {
      bridge: this.bridge(),
      database,
      postgresError,
      counters: await sinkCounters(this.metrics),
      history: (sink) => this.history.of(sink),
      replicationLagBytes: await gaugeValue(this.metrics, 'pgbridge_replication_lag_bytes'),
    });
  }

  private async api(req: http.IncomingMessage, path: string): Promise<unknown> {
    const url = new URL(req.url ?? '/', 'http://console');
    // HEAD is answered as GET (Node leaves out the body).
    const method = req.method === 'HEAD' ? 'GET' : (req.method ?? 'GET');
    if (path === '/api/status' && method === 'GET') return this.status();
    const parts = path.split('/').filter(Boolean); // ['api', 'dead-letters', …]
    if (parts[1] !== 'dead-letters' || parts.length > 4) throw new HttpProblem(404, 'not found');
    if (this.config.http.token === '') throw new HttpProblem(403, 'dead letters are shown only with http.token set');
    const instance = this.config.instance;
    if (parts.length === 2 && method === 'GET') {
      const filter = { sink: searchText(url, 'sink'), text: searchText(url, 'q') };
      // Whole: a search reads on until it has exactly `limit` letters (2.5 would read every match), FETCH takes no fraction.
      const limit = Math.min(LIST_LIMIT, Math.max(1, Math.floor(Number(url.searchParams.get('limit')) || 200)));
      // A letter stored by an older version may quote a secret in its error.
      const scrub = (error: string): string => this.scrubber.scrub(error);
      return { dead_letters: await withPooledClient(this.pool, (db) => deadLetterSummaries(db, instance, filter, limit, scrub)) };
    }
    if (parts.length === 4 && parts[3] === 'event' && method === 'GET') {
      if (!/^\d{1,19}$/.test(parts[2])) throw new HttpProblem(400, 'a dead letter id is a number');
      const event = await withPooledClient(this.pool, (db) => deadLetterEvent(db, instance, parts[2]));
      if (event === undefined) throw new HttpProblem(404, `no dead letter ${parts[2]}`);
      if (typeof event !== 'string') {
        const mb = Math.round(event.bytes / 1e6);
        throw new HttpProblem(422, `the event of dead letter ${parts[2]} is too large to show (${mb} MB); it can still be retried`);
      }
      return event;
    }
    if (parts.length === 3 && (parts[2] === 'retry' || parts[2] === 'discard')) {
      if (method !== 'POST') throw new HttpProblem(405, 'use POST');
      const ids = await this.selection(req);
      if (parts[2] === 'retry') return withPooledClient(this.pool, (db) => retryDeadLetters(db, this.config, { ids }));
      return { discarded: await withPooledClient(this.pool, (db) => discardDeadLetters(db, instance, { ids })) };
    }
    throw new HttpProblem(404, 'not found');
  }

  /** An action's body: JSON (which a cross-site form cannot send) from the console's own origin. */
  private async selection(req: http.IncomingMessage): Promise<string[]> {
    if (!sameOrigin(req)) throw new HttpProblem(403, 'cross-origin request refused');
    if (!/^application\/json\b/i.test(req.headers['content-type'] ?? '')) throw new HttpProblem(415, 'send application/json');
    const text = await readBody(req, MAX_BODY);
    let ids: unknown;
    try {
      ids = (JSON.parse(text) as { ids?: unknown }).ids;
    } catch {
      throw new HttpProblem(400, 'the body is not JSON');
    }
    if (
      !Array.isArray(ids) ||
      ids.length === 0 ||
      ids.length > MAX_SELECTION ||
      !ids.every((id) => typeof id === 'string' && /^\d{1,19}$/.test(id))
    ) {
      throw new HttpProblem(400, `give {"ids": [...]}: 1 to ${MAX_SELECTION} dead letter ids as strings`);
    }
    return ids as string[];
  }

  private databaseFacts(): Promise<DatabaseFacts> {
    const now = Date.now();
    if (!this.facts || now - this.facts.at > FACTS_TTL_MS) {
      const value = withPooledClient(this.pool, (db) => databaseFacts(db, this.config));
      value.catch(() => {});
      this.facts = { at: now, value };
    }
    return this.facts.value;
  }
}

/** A query parameter, undefined when empty; Postgres text cannot hold a NUL, so one is the caller's mistake. */
function searchText(url: URL, name: string): string | undefined {
  const value = url.searchParams.get(name) || undefined;
  if (value?.includes('\0')) throw new HttpProblem(400, `${name} holds a NUL character`);
  return value;
}
