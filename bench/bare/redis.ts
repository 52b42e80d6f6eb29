/**
 * The Redis ceiling: node-redis (@redis/client, the client the sink uses)
 * appending the same events as the sink does — one XADD per event with the
 * fields id, op, table and event, `batch` of them per MULTI … EXEC, every
 * reply checked, `inFlight` transactions pipelined on one connection.
 */
import { createClient } from '@redis/client';
import { eventBody } from '../event-body.js';
import { monoMs, runBare } from './job.js';

await runBare(async ({ server, destination, table, firstId, count, batch, inFlight }) => {
  const client = createClient({ url: server, disableOfflineQueue: true, socket: { reconnectStrategy: false } });
  client.on('error', () => undefined);
  await client.connect();
  let next = 0;
  const firstPublishAt = monoMs();
  const worker = async (): Promise<void> => {
    while (next < count) {
      const from = next;
      const to = Math.min(count, from + batch);
      next = to;
      const multi = client.multi();
      for (let id = firstId + from; id < firstId + to; id++) {
        multi.xAdd(destination, '*', { id: String(id), op: 'INSERT', table: `public.${table}`, event: eventBody(table, id) });
      }
      const replies = await multi.exec(); // rejects when any reply is an error
      if (replies.length !== to - from) throw new Error(`bare redis: ${replies.length} replies for ${to - from} XADDs`);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  await client.close();
  return firstPublishAt;
});
