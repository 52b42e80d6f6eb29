import { defineSink } from '../descriptor.js';

export const stdoutDescriptor = defineSink({
  type: 'stdout',
  reference:
    'NDJSON on standard output, one event per line (line breaks a json value or NOTIFY payload was written with, always between tokens, become spaces); a delivery counts once the bytes are handed to the OS.',
  schema: {},
  // One writer: lines of a batch are written in one go, and a second lane would only interleave them.
  defaults: { batch: { max_events: 1000, max_wait_ms: 0 }, max_in_flight: 1 },
  load: () => import('./sink.js'),
});
