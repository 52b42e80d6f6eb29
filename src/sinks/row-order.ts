import { orderingKey, type BridgeEvent } from '../event.js';

/**
 * The row whose messages publishInRowOrder sends one after another: a row
 * with a primary key. Channel messages and the rows of a table without one
 * share one ordering key per channel or table: waiting there would take a
 * whole batch's pipelining away, so they go pipelined.
 */
export function rowToKeepInOrder(event: BridgeEvent): string | undefined {
  return event.kind === 'row' && event.key !== null ? orderingKey(event) : undefined;
}

/**
 * Publishes `messages` pipelined, in their order, except that a message waits
 * for the outcome of the one before it of its row (or channel), and is not
 * sent at all when that one failed in a way its batch is sent again for. A
 * broker that refuses one message and takes the next (a full stream, a
 * quota) would otherwise hold the next before it once the batch is resent.
 */
export function publishInRowOrder<M, O>(
  messages: readonly M[],
  rowOf: (message: M) => string | undefined,
  publish: (message: M) => Promise<O>,
  next: { readonly mayFollow: (outcome: O) => boolean; readonly heldBack: (message: M) => O },
): Promise<O[]> {
  const lastOfRow = new Map<string, Promise<O>>();
  return Promise.all(
    messages.map((message) => {
      const row = rowOf(message);
      if (row === undefined) return publish(message);
      const before = lastOfRow.get(row);
      const outcome =
        before === undefined ? publish(message) : before.then((earlier) => (next.mayFollow(earlier) ? publish(message) : next.heldBack(message)));
      lastOfRow.set(row, outcome);
      return outcome;
    }),
  );
}
