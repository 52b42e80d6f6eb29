import type { CommandArgs } from '../cli.js';
import type { BridgeConfig } from '../config/types.js';
import { outboxTable, REPLAY_COLUMNS } from '../schema/outbox.js';
import { connectClient } from '../postgres.js';
import type { Scrubber } from '../secrets.js';

/** `dead-letters list` prints one JSON line per dead letter; `dead-letters retry` hands them back to the outbox. */
export async function deadLettersCommand(config: BridgeConfig, _scrubber: Scrubber, args: CommandArgs): Promise<number> {
  const [action] = args.positionals;
  if (action !== 'list' && action !== 'retry') {
    process.stderr.write('usage: pgbridge dead-letters list|retry [--sink S] [--id ID] [--limit N]\n');
    return 2;
  }
  const db = await connectClient(config, 'dead-letters');
  try {
    return action === 'list' ? await list(db, config, args) : await retry(db, config, args);
  } finally {
    await db.end().catch(() => {});
  }
}

type Db = Awaited<ReturnType<typeof connectClient>>;

async function list(db: Db, config: BridgeConfig, args: CommandArgs): Promise<number> {
  const limit = Number(args.limit ?? 100);
  const { rows } = await db.query<{ line: string }>(
    `SELECT json_build_object('dead_letter_id', id, 'sink', sink, 'event_id', event_id, 'error', error,
                              'attempts', attempts, 'failed_at', failed_at, 'event', event)::text AS line
       FROM pgbridge.dead_letters
      WHERE instance = $1 AND ($2::text IS NULL OR sink = $2) AND ($3::text IS NULL OR event_id = $3)
      ORDER BY id LIMIT $4`,
    [config.instance, args.sink ?? null, args.id ?? null, Number.isFinite(limit) ? limit : 100],
  );
  for (const row of rows) process.stdout.write(`${row.line}\n`);
  process.stderr.write(`${rows.length} dead letter(s)\n`);
  return 0;
}

/**
 * Moves dead letters back into the outbox, each for its own sink only and
 * with its original event id, in one transaction; the running bridge delivers them.
 */
async function retry(db: Db, config: BridgeConfig, args: CommandArgs): Promise<number> {
  await db.query('BEGIN');
  // Take a transaction id before the outbox sequence is used, as the capture triggers do (see SettledWater).
  await db.query('SELECT pg_current_xact_id()');
  const { rowCount } = await db.query(
    `WITH moved AS (
       DELETE FROM pgbridge.dead_letters
        WHERE instance = $1 AND ($2::text IS NULL OR sink = $2) AND ($3::text IS NULL OR event_id = $3)
          AND sink = ANY($4::text[])
       RETURNING id, sink, event_id, event, key)
     INSERT INTO ${outboxTable(config.instance)} (${REPLAY_COLUMNS})
     SELECT m.event_id, m.sink,
            coalesce((m.event->>'txid')::xid8, pg_current_xact_id()), (m.event->>'ts')::timestamptz,
            m.event->>'schema', m.event->>'table', left(m.event->>'op', 1)::"char", m.key,
            CASE WHEN m.event->>'channel' IS NULL THEN m.event->'data' END,
            CASE WHEN json_typeof(m.event->'old') = 'object' THEN m.event->'old' END,
            m.event->>'channel',
            CASE WHEN m.event->>'channel' IS NULL THEN NULL
                 WHEN json_typeof(m.event->'payload') = 'string' THEN m.event->>'payload'
                 ELSE (m.event->'payload')::text END
       FROM moved m ORDER BY m.id`,
    [config.instance, args.sink ?? null, args.id ?? null, config.sinks.map((s) => s.name)],
  );
  await db.query(`SELECT pg_notify($1, '')`, [config.notifyChannel]);
  const { rows: kept } = await db.query<{ sink: string; count: string }>(
    `SELECT sink, count(*) FROM pgbridge.dead_letters
      WHERE instance = $1 AND ($2::text IS NULL OR sink = $2) AND ($3::text IS NULL OR event_id = $3)
      GROUP BY sink ORDER BY sink`,
    [config.instance, args.sink ?? null, args.id ?? null],
  );
  await db.query('COMMIT');
  process.stderr.write(`${rowCount ?? 0} dead letter(s) queued for delivery again\n`);
  for (const { sink, count } of kept) {
    process.stderr.write(`${count} dead letter(s) of sink ${sink} kept: no sink of that name in ${config.file}\n`);
  }
  return 0;
}
