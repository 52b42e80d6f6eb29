/** A WAL position (pg_lsn) as a bigint: "16/B374D848" is (0x16 << 32) | 0xB374D848. */
export type Lsn = bigint;

export function parseLsn(text: string): Lsn {
  const match = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(text);
  if (!match) throw new Error(`not an LSN: ${JSON.stringify(text)}`);
  return (BigInt(`0x${match[1]}`) << 32n) | BigInt(`0x${match[2]}`);
}

export function formatLsn(lsn: Lsn): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}

/** Fixed width, so ids built from it sort like the positions. */
export function lsnKey(lsn: Lsn): string {
  return lsn.toString(16).toUpperCase().padStart(16, '0');
}
