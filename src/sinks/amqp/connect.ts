import amqp, { type ChannelModel, type ConfirmChannel } from 'amqplib';
import { errorMessage, RetriableError } from '../../errors.js';
import type { Scrubber } from '../../secrets.js';
import { untilAborted } from '../until-aborted.js';
import type { AmqpSinkConfig } from './config.js';

export interface AmqpSession {
  readonly connection: ChannelModel;
  readonly channel: ConfirmChannel;
}

/** The URL for messages: scheme, host, port and vhost, never the credentials. */
export function describeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname === '' ? '/' : parsed.pathname}`;
  } catch {
    return '(invalid url)';
  }
}

function withHeartbeat(url: string, heartbeatS: number): string {
  const parsed = new URL(url);
  if (!parsed.searchParams.has('heartbeat')) parsed.searchParams.set('heartbeat', String(heartbeatS));
  return parsed.toString();
}

/**
 * Opens a connection and a confirm channel and makes sure the exchange is
 * there. Every failure is a RetriableError whose message names the broker and
 * the step, with the URL's password scrubbed out.
 */
export async function openSession(config: AmqpSinkConfig, scrubber: Scrubber, signal: AbortSignal): Promise<AmqpSession> {
  const where = `amqp sink "${config.name}" (${describeUrl(config.url)})`;
  const fail = (step: string, cause: unknown): RetriableError =>
    new RetriableError(scrubber.scrub(`${where}: ${step}: ${errorMessage(cause)}`), { code: 'PGBRIDGE_AMQP_CONNECT' });

  let connection: ChannelModel;
  try {
    signal.throwIfAborted();
    connection = await untilAborted(
      amqp.connect(withHeartbeat(config.url, config.heartbeat_s), {
        timeout: config.connect_timeout_ms,
        clientProperties: { connection_name: `pgbridge ${config.name}` },
      }),
      signal,
      (aborted) => aborted.reason,
      (late) => void late.close().catch(() => {}),
    );
  } catch (err) {
    throw fail('cannot connect', err);
  }
  // Until the caller attaches its own listeners, a failure must not become an unhandled 'error' event.
  const swallow = (): void => {};
  connection.on('error', swallow);
  let channel: ConfirmChannel | undefined;
  try {
    channel = await connection.createConfirmChannel();
    channel.on('error', swallow);
    try {
      if (config.declare) await channel.assertExchange(config.exchange, config.exchange_type, { durable: true });
      else await channel.checkExchange(config.exchange);
    } catch (err) {
      const step = config.declare
        ? `cannot declare ${config.exchange_type} exchange "${config.exchange}"`
        : `exchange "${config.exchange}" is not usable (declare is false)`;
      throw fail(step, err);
    }
    signal.throwIfAborted();
    return { connection, channel };
  } catch (err) {
    await connection.close().catch(() => {});
    if (err instanceof RetriableError) throw err;
    throw fail(signal.aborted ? 'aborted' : 'cannot open a channel', err);
  } finally {
    connection.off('error', swallow);
    channel?.off('error', swallow);
  }
}
