import pg from 'pg';
import { destroySocket, endClient, pinRenderSettings, socketOf } from '../../postgres.js';
import { ident, literal } from '../../schema/quote.js';
import type { Lsn } from './lsn.js';
import { nowPgMicros } from './pg-time.js';
import { SilenceWatch } from './silence-watch.js';

/** Silent this long, the server is asked for a keepalive (as often as ConnectionWatch asks its connections). */
const ASK_AFTER_MS = 5000;
/** From connected to streaming (a few round trips) at most. */
const START_WITHIN_MS = 30_000;
/** When the server's wal_sender_timeout is off (0). */
const DEFAULT_SENDER_TIMEOUT_MS = 60_000;

export interface StreamHandlers {
  /** An XLogData message: `body` is one pgoutput message, valid only during the call (copy what outlives it). */
  onData(walStart: Lsn, body: Buffer): void;
  /** A primary keepalive: the server has sent everything before `walEnd`. */
  onKeepalive(walEnd: Lsn, replyRequested: boolean): void;
}

/**
 * A logical replication connection (pg's `replication: 'database'`, CopyBoth
 * over pg's own protocol parser): START_REPLICATION with pgoutput, XLogData and
 * keepalives in, standby status updates out. Knows nothing of events.
 */
export class ReplicationStream {
  private readonly client: pg.Client;
  private ended: Promise<void> | undefined;
  private streaming = false;
  private watch: SilenceWatch | undefined;
  private fail: ((err: Error) => void) | undefined;
  private lastStatus = { received: 0n, flushed: 0n };

  constructor(
    config: pg.ClientConfig,
    private readonly handlers: StreamHandlers,
  ) {
    this.client = new pg.Client({ ...config, replication: 'database' } as pg.ClientConfig);
  }

  get isStreaming(): boolean {
    return this.streaming;
  }

  /** Connects and starts streaming; `ended` settles when the stream ends (rejects with the server's error or the connection's). */
  async start(slot: string, publication: string): Promise<{ ended: Promise<void> }> {
    const lost = new Promise<never>((_, reject) => {
      this.fail = reject;
      this.client.on('error', reject);
      this.client.on('end', () => reject(new Error('replication connection ended')));
    });
    lost.catch(() => {});
    // close() while connecting ends the connection, and pg then never settles connect(): `lost` does.
    await Promise.race([this.client.connect(), lost]);
    // A connection silenced before it streams (a query below unanswered) would wait forever: bounded too.
    const startWithin = setTimeout(() => this.giveUp(`did not start streaming within ${START_WITHIN_MS / 1000} s`), START_WITHIN_MS);
    try {
      return await this.startStreaming(slot, publication, lost);
    } finally {
      clearTimeout(startWithin);
    }
  }

  private async startStreaming(slot: string, publication: string, lost: Promise<never>): Promise<{ ended: Promise<void> }> {
    // The walsender's output functions write the values pgoutput sends: with the same settings as every other rendering.
    await pinRenderSettings(this.client);
    const deadAfterMs = (await senderTimeoutMs(this.client)) + ASK_AFTER_MS;
    const connection = (this.client as unknown as { connection: PgConnection }).connection;
    connection.on('copyData', (msg: { chunk: Buffer }) => this.onCopyData(msg.chunk));
    const started = new Promise<void>((resolve) =>
      connection.once('replicationStart', () => {
        this.streaming = true;
        this.watchSilence(deadAfterMs);
        resolve();
      }),
    );
    const options = `proto_version '1', publication_names ${literal(ident(publication))}, messages 'true'`;
    const query = this.client.query(`START_REPLICATION SLOT ${ident(slot)} LOGICAL 0/0 (${options})`);
    this.ended = Promise.race([query.then(() => undefined), lost]).finally(() => {
      this.streaming = false;
      this.watch?.stop();
    });
    // Errors before streaming (no such slot, slot active elsewhere) reject here, not later.
    await Promise.race([this.ended, started]);
    return { ended: this.ended };
  }

  /** Standby status update: `flushed` is what the slot may forget (confirmed_flush_lsn). */
  sendStatus(received: Lsn, flushed: Lsn, replyRequested = false): void {
    if (!this.streaming) return;
    this.lastStatus = { received, flushed };
    const buf = Buffer.alloc(34);
    buf.write('r', 0);
    buf.writeBigUInt64BE(received, 1);
    buf.writeBigUInt64BE(flushed, 9);
    buf.writeBigUInt64BE(flushed, 17);
    buf.writeBigInt64BE(nowPgMicros(), 25);
    buf.writeUInt8(replyRequested ? 1 : 0, 33);
    (this.client as unknown as { connection: PgConnection }).connection.sendCopyFromChunk(buf);
  }

  /** Stops reading from the socket (backpressure); the server's sends wait in TCP buffers. */
  pause(): void {
    this.watch?.suspend();
    socketOf(this.client).pause();
  }

  resume(): void {
    this.watch?.resume();
    socketOf(this.client).resume();
  }

  async close(): Promise<void> {
    this.streaming = false;
    this.watch?.stop();
    await endClient(this.client);
  }

  /**
   * Past `deadAfterMs` of silence, even when asked, the connection is closed:
   * the server's own wal_sender_timeout, plus the time to ask. A walsender
   * replaying a large transaction reads status updates only every half of that
   * timeout, so nothing shorter is safe from false alarms, each of which would
   * decode that transaction again from the start.
   */
  private watchSilence(deadAfterMs: number): void {
    this.watch = new SilenceWatch({
      askAfterMs: ASK_AFTER_MS,
      deadAfterMs,
      ask: () => this.sendStatus(this.lastStatus.received, this.lastStatus.flushed, true),
      onDead: (silentMs) => this.giveUp(`stopped answering (nothing for ${Math.round(silentMs / 1000)} s, even when asked)`),
    });
  }

  /** Closes a connection that does not answer: the stream ends with `reason`, and its server session counts as stranded. */
  private giveUp(reason: string): void {
    this.fail?.(new Error(`the replication connection ${reason}; closing it`));
    destroySocket(this.client);
  }

  private onCopyData(chunk: Buffer): void {
    this.watch?.heard();
    const kind = chunk[0];
    if (kind === 0x77 /* w */) {
      // Valid only during this call: pg's parser reuses its read buffer for what arrives next.
      this.handlers.onData(chunk.readBigUInt64BE(1), chunk.subarray(25));
    } else if (kind === 0x6b /* k */) {
      this.handlers.onKeepalive(chunk.readBigUInt64BE(1), chunk[17] === 1);
    }
  }
}

/** The server's wal_sender_timeout in ms (after it the walsender gives up on a client it does not hear from). */
async function senderTimeoutMs(client: pg.Client): Promise<number> {
  const { rows } = await client.query<{ ms: string }>("SELECT setting AS ms FROM pg_settings WHERE name = 'wal_sender_timeout'");
  const ms = Number(rows[0]?.ms ?? 0);
  return ms > 0 ? ms : DEFAULT_SENDER_TIMEOUT_MS;
}

interface PgConnection {
  on(event: string, listener: (...args: never[]) => void): void;
  once(event: string, listener: (...args: never[]) => void): void;
  sendCopyFromChunk(chunk: Buffer): void;
}
