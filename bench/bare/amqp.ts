/**
 * The AMQP ceiling in a process of its own: amqplib on a confirm channel, the
 * publishes of `publishConfirmed` (persistent, mandatory, the sink's headers
 * and routing key) with at most `batch` × `inFlight` unconfirmed (the sink's
 * max_batch × max_in_flight). `bareAmqp` in ceilings.ts makes the same in the
 * bench process, timed from its first publish.
 */
import amqp from 'amqplib';
import { eventBody } from '../event-body.js';
import { publishConfirmed } from './amqp-publish.js';
import { monoMs, runBare } from './job.js';

await runBare(async ({ server, destination, table, firstId, count, batch, inFlight }) => {
  const connection = await amqp.connect(server);
  const channel = await connection.createConfirmChannel();
  await channel.assertExchange(destination, 'topic', { durable: true });
  const firstPublishAt = monoMs();
  const failed = await publishConfirmed(channel, destination, table, firstId, count, batch * inFlight, (i) =>
    Buffer.from(eventBody(table, firstId + i)),
  );
  await connection.close();
  if (failed > 0) throw new Error(`bare amqp: ${failed} nacks`);
  return firstPublishAt;
});
