/**
 * Who is guessing, for the wrong-token queue: an IPv4 address, or the /64 an
 * IPv6 address is in (one host is commonly given a whole /64, so its single
 * addresses are no limit). Unknown (a closed socket) is one client of its own.
 */
export function clientKey(address: string | undefined): string {
  if (address === undefined) return 'unknown';
  const plain = address.replace(/%.*$/, '').toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(plain);
  if (mapped) return mapped[1];
  if (!plain.includes(':')) return plain;
  const [head, tail = ''] = plain.split('::');
  const groups = (part: string) => part.split(':').filter((g) => g !== '');
  const known = [...groups(head), ...groups(tail)].length;
  const full = plain.includes('::') ? [...groups(head), ...Array<string>(8 - known).fill('0'), ...groups(tail)] : groups(plain);
  return `${full
    .slice(0, 4)
    .map((g) => parseInt(g, 16).toString(16))
    .join(':')}::/64`;
}
