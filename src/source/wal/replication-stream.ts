import pg from 'pg';
import { endClient, pinRenderSettings, socketOf } from '../../postgres.js';
import { ident, literal } from '../../schema/quote.js';
import type { Lsn } from './lsn.js';
import { nowPgMicros } from './pg-time.js';

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
      this.client.on('error', reject);
      this.client.on('end', () => reject(new Error('replication connection ended')));
    });
    lost.catch(() => {});
    // close() while connecting ends the connection, and pg then never settles connect(): `lost` does.
    await Promise.race([this.client.connect(), lost]);
    // The walsender's output functions write the values pgoutput sends: with the same settings as every other rendering.
    await pinRenderSettings(this.client);
    const connection = (this.client as unknown as { connection: PgConnection }).connection;
    connection.on('copyData', (msg: { chunk: Buffer }) => this.onCopyData(msg.chunk));
    const started = new Promise<void>((resolve) =>
      connection.once('replicationStart', () => {
        this.streaming = true;
        resolve();
      }),
    );
    const options = `proto_version '1', publication_names ${literal(ident(publication))}, messages 'true'`;
    const query = this.client.query(`START_REPLICATION SLOT ${ident(slot)} LOGICAL 0/0 (${options})`);
    this.ended = Promise.race([query.then(() => undefined), lost]).finally(() => (this.streaming = false));
    // Errors before streaming (no such slot, slot active elsewhere) reject here, not later.
    await Promise.race([this.ended, started]);
    return { ended: this.ended };
  }

  /** Standby status update: `flushed` is what the slot may forget (confirmed_flush_lsn). */
  sendStatus(received: Lsn, flushed: Lsn, replyRequested = false): void {
    if (!this.streaming) return;
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
    socketOf(this.client).pause();
  }

  resume(): void {
    socketOf(this.client).resume();
  }

  async close(): Promise<void> {
    this.streaming = false;
    await endClient(this.client);
  }

  private onCopyData(chunk: Buffer): void {
    const kind = chunk[0];
    if (kind === 0x77 /* w */) {
      // Valid only during this call: pg's parser reuses its read buffer for what arrives next.
      this.handlers.onData(chunk.readBigUInt64BE(1), chunk.subarray(25));
    } else if (kind === 0x6b /* k */) {
      this.handlers.onKeepalive(chunk.readBigUInt64BE(1), chunk[17] === 1);
    }
  }
}

interface PgConnection {
  on(event: string, listener: (...args: never[]) => void): void;
  once(event: string, listener: (...args: never[]) => void): void;
  sendCopyFromChunk(chunk: Buffer): void;
}
