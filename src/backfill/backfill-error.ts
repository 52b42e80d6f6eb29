/** A backfill that cannot start or go on: the message says why and what to do. */
export class BackfillError extends Error {
  override name = 'BackfillError';
}
