import { urlFormat } from '../../config/formats.js';
import { defineSink } from '../descriptor.js';
import { checkWebhook, webhookSchema, webhookSecrets } from './config.js';

export const webhookDescriptor = defineSink({
  type: 'webhook',
  reference:
    'One HTTP request per batch: the event as the body, or a JSON array with `batch.max_events` > 1. 2xx delivers; network errors, timeouts, 408, 429 (`Retry-After`) and 5xx are retried; any other status is permanent.',
  schema: webhookSchema,
  defaults: { batch: { max_events: 1, max_wait_ms: 0 }, max_in_flight: 4 },
  docs: { 'batch.max_events': 'Events per request; above 1 the body is a JSON array.' },
  formats: { 'http-url': urlFormat(['http:', 'https:']) },
  check: checkWebhook,
  secrets: webhookSecrets,
  load: () => import('./sink.js'),
});
