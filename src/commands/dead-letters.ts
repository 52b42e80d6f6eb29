import type { CommandArgs } from '../cli.js';
import type { BridgeConfig } from '../config/types.js';
import { deadLetterLines, deadLetterSummaries, retryDeadLetters, type DeadLetterFilter } from '../delivery/dead-letter-store.js';
import { connectClient } from '../postgres.js';
import type { Scrubber } from '../secrets.js';
import type pg from 'pg';

/** `dead-letters list` prints one JSON line per dead letter; `dead-letters retry` hands them back to the outbox. */
export async function deadLettersCommand(config: BridgeConfig, scrubber: Scrubber, args: CommandArgs): Promise<number> {
  const [action] = args.positionals;
  const limit = args.limit === undefined ? 100 : Number(args.limit);
  if ((action !== 'list' && action !== 'retry') || !Number.isInteger(limit) || limit < 1) {
    process.stderr.write('usage: pgbridge dead-letters list|retry [--sink S] [--id EVENT_ID] [--limit N]\n');
    return 2;
  }
  const filter: DeadLetterFilter = { sink: args.sink, eventId: args.id };
  const db = await connectClient(config, 'dead-letters');
  try {
    if (action === 'list') {
      const lines = await deadLetterLines(db, config.instance, filter, limit, (error) => scrubber.scrub(error));
      for (const line of lines) process.stdout.write(`${line}\n`);
      process.stderr.write(`${lines.length} dead letter(s)\n`);
      if (lines.length === 0) await hintAtEventId(db, config.instance, filter);
      return 0;
    }
    const { retried, kept } = await retryDeadLetters(db, config, filter);
    process.stderr.write(`${retried} dead letter(s) queued for delivery again\n`);
    if (retried === 0 && kept.length === 0) await hintAtEventId(db, config.instance, filter);
    for (const { sink, count } of kept) {
      process.stderr.write(`${count} dead letter(s) of sink ${sink} kept: no sink of that name in ${config.file}\n`);
    }
    return 0;
  } finally {
    await db.end().catch(() => {});
  }
}

/** `--id` takes the event id; `list` prints each line's dead_letter_id first, which is easy to pass instead. */
async function hintAtEventId(db: pg.ClientBase, instance: string, filter: DeadLetterFilter): Promise<void> {
  if (filter.eventId === undefined || !/^\d{1,18}$/.test(filter.eventId)) return;
  const [byRow] = await deadLetterSummaries(db, instance, { sink: filter.sink, ids: [filter.eventId] }, 1, (error) => error);
  if (byRow)
    process.stderr.write(`--id takes an event id: dead letter ${byRow.dead_letter_id} is event ${byRow.event_id} (--id ${byRow.event_id})\n`);
}
