import { defineSink } from '../descriptor.js';
import { checkNatsConfig, natsSchema, natsSecrets, natsUrlsFormat } from './config.js';

export const natsDescriptor = defineSink({
  type: 'nats',
  reference:
    "Each event is a JetStream message on the `subject` template's subject (`channel_subject` for channel events) with header `Nats-Msg-Id` = event id, so that JetStream stores a redelivered event once inside the stream's duplicate window; a delivery counts once its PubAck is in.",
  schema: natsSchema,
  defaults: { batch: { max_events: 500, max_wait_ms: 0 }, max_in_flight: 4 },
  docs: {
    'batch.max_events': 'Most events published in one pipelined batch before awaiting their PubAcks.',
    max_in_flight: 'Batches published at once (on one connection); events of one row never overtake each other.',
  },
  formats: { 'nats-urls': natsUrlsFormat },
  check: checkNatsConfig,
  secrets: natsSecrets,
  load: () => import('./sink.js'),
});
