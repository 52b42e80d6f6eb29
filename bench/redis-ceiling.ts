/**
 * The Redis ceiling: node-redis (@redis/client, the client the sink uses)
 * appending the same events as the sink does — one XADD per event with the
 * fields id, op, table and event, `batch` of them per MULTI … EXEC, every
 * reply checked, `inFlight` transactions pipelined on one connection.
 */
import { createClient } from '@redis/client';
import type { CeilingResult } from './ceilings.js';
import type { Receiver } from './receivers.js';
import { monoMs } from './stats.js';
import { eventBody, TABLES } from './workloads.js';

const WAIT_MS = 120_000;

export async function bareRedis(
  url: string,
  stream: string,
  receiver: Receiver,
  firstId: number,
  count: number,
  batch: number,
  inFlight: number,
): Promise<CeilingResult> {
  await receiver.reset();
  const client = createClient({ url, disableOfflineQueue: true, socket: { reconnectStrategy: false } });
  client.on('error', () => undefined);
  await client.connect();
  const fields = Array.from({ length: count }, (_, i) => {
    const id = String(firstId + i);
    return { id, op: 'INSERT', table: `public.${TABLES.outbox}`, event: eventBody(TABLES.outbox, firstId + i) };
  });
  let next = 0;
  const cpu0 = process.cpuUsage();
  const started = monoMs();
  const worker = async (): Promise<void> => {
    while (next < count) {
      const slice = fields.slice(next, next + batch);
      next += slice.length;
      const multi = client.multi();
      for (const entry of slice) multi.xAdd(stream, '*', entry);
      const replies = await multi.exec(); // rejects when any reply is an error
      if (replies.length !== slice.length) throw new Error(`bare redis: ${replies.length} replies for ${slice.length} XADDs`);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  const cpu = process.cpuUsage(cpu0);
  const got = await receiver.wait(count, WAIT_MS);
  const seconds = ((got.count >= count ? got.lastAt : monoMs()) - started) / 1000;
  await client.close();
  return { events: count, received: got.count, seconds, rate: got.count / seconds, cpuS: (cpu.user + cpu.system) / 1e6 };
}
