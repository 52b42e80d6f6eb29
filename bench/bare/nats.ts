/**
 * The NATS ceiling: nats.js publishing the same events to JetStream as the
 * sink does — headers pgbridge-id/op/table and content-type, Nats-Msg-Id,
 * every PubAck awaited — `batch` pipelined at a time, `inFlight` batches at once.
 */
import { jetstream } from '@nats-io/jetstream';
import { connect, headers as natsHeaders } from '@nats-io/transport-node';
import { eventBody } from '../event-body.js';
import { monoMs, runBare } from './job.js';

await runBare(async ({ server, destination, table, firstId, count, batch, inFlight }) => {
  // noAsyncTraces as the sink sets it: no stack-trace Errors made per request.
  const connection = await connect({ servers: server, name: 'pgbridge bench ceiling', noAsyncTraces: true });
  const js = jetstream(connection, { timeout: 5000 });
  const publish = (id: number): Promise<unknown> => {
    const h = natsHeaders();
    h.set('pgbridge-id', String(id));
    h.set('pgbridge-op', 'INSERT');
    h.set('pgbridge-table', `public.${table}`);
    h.set('content-type', 'application/json');
    return js.publish(destination, eventBody(table, id), { msgID: `ceiling-${id}`, headers: h, timeout: 5000 });
  };
  let next = 0;
  const firstPublishAt = monoMs();
  const worker = async (): Promise<void> => {
    while (next < count) {
      const from = next;
      next = Math.min(count, next + batch);
      await Promise.all(Array.from({ length: next - from }, (_, i) => publish(firstId + from + i)));
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  await connection.close();
  return firstPublishAt;
});
