import type { BridgeEvent } from '../event.js';

/**
 * What encodeURIComponent escapes but a URI path segment may hold as it is
 * (RFC 3986 sub-delims, `:` and `@`). `$` is among them, and an unquoted
 * Postgres name may contain it: such a name keeps the source it always had.
 */
const ESCAPES_A_SEGMENT_ALLOWS = /%(?:24|26|2B|2C|3B|3D|3A|40)/g;

function pathSegment(name: string): string {
  return encodeURIComponent(name).replace(ESCAPES_A_SEGMENT_ALLOWS, decodeURIComponent);
}

/**
 * CloudEvents `source`: /pgbridge/<database>/<schema>.<table>, or
 * /pgbridge/<database>/channel/<channel>. Each name is percent-encoded on its
 * own, the `.` between schema and table staying the separator: a quoted
 * Postgres name may hold a space, `%`, `/` or non-ASCII letters, and `source`
 * must be a URI-reference.
 */
export function cloudEventSource(event: BridgeEvent, database: string): string {
  const prefix = `/pgbridge/${pathSegment(database)}/`;
  if (event.kind === 'channel') return `${prefix}channel/${pathSegment(event.channel)}`;
  return `${prefix}${pathSegment(event.schema)}.${pathSegment(event.table)}`;
}
