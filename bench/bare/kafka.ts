/**
 * The Kafka ceiling in a process of its own: a kafkajs producer (not
 * idempotent, as the sink), acks all, `batch` keyed messages per send with the
 * sink's headers, `inFlight` sends at once. Unlike `bareKafka` in ceilings.ts
 * (the bench process, connected and warmed with one message before its
 * timing starts), the topic's metadata is fetched by the first send, as the
 * sink's is: a drain counts that too.
 */
import { Kafka, logLevel, type Message } from 'kafkajs';
import { eventBody } from '../event-body.js';
import { monoMs, runBare } from './job.js';

await runBare(async ({ server, destination, table, firstId, count, batch, inFlight }) => {
  const kafka = new Kafka({ clientId: 'pgbridge-bench', brokers: server.split(','), logLevel: logLevel.NOTHING });
  const producer = kafka.producer({ idempotent: false, allowAutoTopicCreation: true });
  await producer.connect();
  const message = (id: number): Message => ({
    key: `{"id":${id}}`,
    value: eventBody(table, id),
    headers: { 'pgbridge-id': String(id), 'pgbridge-op': 'INSERT', 'pgbridge-table': `public.${table}` },
  });
  let next = 0;
  const firstPublishAt = monoMs();
  const worker = async (): Promise<void> => {
    while (next < count) {
      const from = next;
      next = Math.min(count, from + batch);
      await producer.send({ topic: destination, acks: -1, messages: Array.from({ length: next - from }, (_, i) => message(firstId + from + i)) });
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  await producer.disconnect();
  return firstPublishAt;
});
