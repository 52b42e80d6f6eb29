import { urlFormat } from '../../config/formats.js';
import { defineSink } from '../descriptor.js';
import { amqpSchema, amqpSecrets, checkAmqpConfig } from './config.js';

export const amqpDescriptor = defineSink({
  type: 'amqp',
  reference:
    'Each event is a persistent message published to `exchange` with the `routing_key` template, on a confirm channel: a delivery counts once the broker confirmed it (a batch is pipelined, but the second message of a row with a primary key waits for the confirms before it: a full queue with `reject-publish` can nack one and take the next); an unroutable message (no queue bound, under `mandatory`, the default), a rendered routing key over 255 bytes and a message amqplib cannot encode are permanent, for that event alone.',
  schema: amqpSchema,
  defaults: { batch: { max_events: 500, max_wait_ms: 0 }, max_in_flight: 4 },
  docs: { 'batch.max_events': 'Most events published in one pipelined batch before awaiting their confirms.' },
  formats: { 'amqp-url': urlFormat(['amqp:', 'amqps:']) },
  check: checkAmqpConfig,
  secrets: amqpSecrets,
  load: () => import('./sink.js'),
});
