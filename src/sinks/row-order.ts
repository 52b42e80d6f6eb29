/**
 * Publishes `messages` pipelined, in their order, except that a message waits
 * for the outcome of the one before it of its row (or channel), and is not
 * sent at all when that one failed in a way its batch is sent again for. A
 * broker that refuses one message and takes the next (a full stream, a
 * quota) would otherwise hold the next before it once the batch is resent.
 */
export function publishInRowOrder<M, O>(
  messages: readonly M[],
  rowOf: (message: M) => string,
  publish: (message: M) => Promise<O>,
  next: { readonly mayFollow: (outcome: O) => boolean; readonly heldBack: (message: M) => O },
): Promise<O[]> {
  const lastOfRow = new Map<string, Promise<O>>();
  return Promise.all(
    messages.map((message) => {
      const row = rowOf(message);
      const before = lastOfRow.get(row);
      const outcome =
        before === undefined ? publish(message) : before.then((earlier) => (next.mayFollow(earlier) ? publish(message) : next.heldBack(message)));
      lastOfRow.set(row, outcome);
      return outcome;
    }),
  );
}
