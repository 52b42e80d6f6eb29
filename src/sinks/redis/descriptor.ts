import { urlFormat } from '../../config/formats.js';
import { defineSink } from '../descriptor.js';
import { checkRedisConfig, redisSchema, redisSecrets } from './config.js';

export const redisDescriptor = defineSink({
  type: 'redis',
  reference:
    "Each event is an entry appended with `XADD` to the `stream` template's stream, with the fields `id` (the event id: consumers deduplicate by it), `op`, `table` or `channel`, and `event` (the formatted event). A batch is one `MULTI … EXEC`: a delivery counts once EXEC answered with an entry id for it; an entry the server refuses for good (`WRONGTYPE`, `NOPERM` on its key) is permanent.",
  schema: redisSchema,
  // Each lane sends its own transaction: with several lanes 500 events read together become
  // several small MULTIs, while one MULTI of 500 is already a single round trip.
  defaults: { batch: { max_events: 500, max_wait_ms: 0 }, max_in_flight: 1 },
  docs: {
    'batch.max_events': 'Most events in one MULTI … EXEC (one XADD each).',
    max_in_flight:
      'Transactions (MULTI … EXEC) pipelined on the one connection at once; events of one row never overtake each other. 1 (one transaction of a whole page at a time) drained a backlog as fast as 2, 4 or 8 or faster in the bench.',
  },
  formats: { 'redis-url': urlFormat(['redis:', 'rediss:']) },
  check: checkRedisConfig,
  secrets: redisSecrets,
  load: () => import('./sink.js'),
});
