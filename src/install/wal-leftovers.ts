import type pg from 'pg';
import { errorMessage } from '../errors.js';
import { undeliveredChanges } from './slot-backlog.js';
import { backlogNote, backlogWarning, type SlotDrop } from './slot-drop.js';
import type { WalCatalog } from './wal-catalog.js';
import { dropPublicationSql, dropSlotSql } from './wal-sql.js';

export interface WalNames {
  readonly slot: string;
  readonly publication: string;
}

export interface Leftovers {
  /** Dropping the slots, before the install transaction. */
  readonly before: readonly string[];
  /** Dropping the publications, inside it. */
  readonly inside: readonly string[];
  readonly changes: readonly string[];
  readonly slotDrops: readonly SlotDrop[];
}

/**
 * The slots and publications of `made` (each slot with the publication it was
 * read with) that are not `kept`: what this instance installed in wal mode and
 * the config no longer wants. A slot of another database (slot names are per
 * server) and a publication another wal instance registered are left alone.
 * `why` ends each change line.
 */
export async function planLeftovers(
  db: pg.ClientBase,
  instance: string,
  catalog: WalCatalog,
  made: readonly WalNames[],
  kept: WalNames | null,
  why: (what: keyof WalNames) => string,
): Promise<Leftovers> {
  const before: string[] = [];
  const inside: string[] = [];
  const changes: string[] = [];
  const slotDrops: SlotDrop[] = [];
  // The first publication named with a slot: the recorded one, which the slot was read with.
  const slots = new Map<string, string>();
  for (const m of made) if (m.slot !== kept?.slot && !slots.has(m.slot)) slots.set(m.slot, m.publication);
  for (const [slot, publication] of slots) {
    const found = await ownSlot(db, slot);
    if (found === undefined) continue;
    // Renamed instances: the slot another one records now is that one's.
    if (catalog.instancesTable && (await slotRecordedByAnother(db, instance, slot))) continue;
    const activePid = found.activePid;
    // An active slot cannot be read; without its publication pgoutput cannot decode it (nor could a bridge deliver from it),
    // nor can a lost one be (Postgres removed the WAL it needed).
    const readable = activePid === null && !found.lost && (await publicationExists(db, publication));
    const drop = readable ? { slot, activePid, ...(await backlog(db, slot, publication, instance)) } : { slot, activePid, undelivered: 0 };
    slotDrops.push(drop);
    const warning = backlogWarning(drop);
    if (warning !== undefined) before.push(warning);
    before.push(dropSlotSql(slot));
    changes.push(
      `remove replication slot ${slot}${why('slot')}${backlogNote(drop)}${found.lost ? ' (lost: Postgres removed the WAL it needed)' : ''}`,
    );
  }
  for (const publication of new Set(made.map((m) => m.publication).filter((p) => p !== kept?.publication))) {
    if (!(await publicationExists(db, publication))) continue;
    if (catalog.instancesTable && (await registeredByAnother(db, instance, publication))) continue;
    inside.push(dropPublicationSql(publication));
    changes.push(`remove publication ${publication}${why('publication')}`);
  }
  return { before, inside, changes, slotDrops };
}

async function backlog(
  db: pg.ClientBase,
  slot: string,
  publication: string,
  instance: string,
): Promise<{ undelivered: number; unreadable?: string }> {
  try {
    return { undelivered: await undeliveredChanges(db, slot, publication, instance) };
  } catch (err) {
    return { undelivered: 0, unreadable: errorMessage(err) };
  }
}

/** The slot in this database: its walsender pid (null: none) and whether it is lost; undefined when there is none. */
async function ownSlot(db: pg.ClientBase, slot: string): Promise<{ activePid: number | null; lost: boolean } | undefined> {
  const { rows } = await db.query<{ activePid: number | null; lost: boolean }>(
    `SELECT active_pid AS "activePid", wal_status = 'lost' AS lost FROM pg_replication_slots WHERE slot_name = $1 AND database = current_database()`,
    [slot],
  );
  return rows[0];
}

/** to_jsonb: a table made before the slot column has none. */
async function slotRecordedByAnother(db: pg.ClientBase, instance: string, slot: string): Promise<boolean> {
  const { rowCount } = await db.query(`SELECT 1 FROM pgbridge.wal_instances w WHERE to_jsonb(w) ->> 'slot' = $1 AND w.instance <> $2`, [
    slot,
    instance,
  ]);
  return rowCount! > 0;
}

async function publicationExists(db: pg.ClientBase, name: string): Promise<boolean> {
  return (await db.query(`SELECT 1 FROM pg_publication WHERE pubname = $1`, [name])).rowCount === 1;
}

async function registeredByAnother(db: pg.ClientBase, instance: string, publication: string): Promise<boolean> {
  return (await db.query(`SELECT 1 FROM pgbridge.wal_instances WHERE publication = $1 AND instance <> $2`, [publication, instance])).rowCount! > 0;
}
