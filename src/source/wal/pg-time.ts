/** Postgres' epoch (2000-01-01) in Unix milliseconds. */
const PG_EPOCH_MS = 946_684_800_000n;

/** Microseconds since 2000-01-01 (pgoutput's timestamps) as the outbox renders `ts`: ISO 8601, UTC, 6 digits. */
export function pgMicrosToIso(micros: bigint): string {
  const ms = micros / 1000n + PG_EPOCH_MS;
  const fraction = ((micros % 1_000_000n) + 1_000_000n) % 1_000_000n;
  const iso = new Date(Number(ms)).toISOString(); // 2026-12-01T19:26:48.696Z
  return `${iso.slice(0, 19)}.${fraction.toString().padStart(6, '0')}+00:00`;
}

export function nowPgMicros(): bigint {
  return (BigInt(Date.now()) - PG_EPOCH_MS) * 1000n;
}
