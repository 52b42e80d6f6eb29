import { defineSink } from '../descriptor.js';
import { checkKafkaConfig, kafkaSchema, kafkaSecrets } from './config.js';

export const kafkaDescriptor = defineSink({
  type: 'kafka',
  reference:
    "Each event is a record in the `topic` template's topic, keyed by the primary key (one key, one partition, commit order); a delivery counts once the brokers acknowledged it as `acks` asks.",
  schema: kafkaSchema,
  // Each lane sends its own produce request: four lanes cut 500 events into
  // four small requests, and one request already reaches every partition leader at once.
  defaults: { batch: { max_events: 500, max_wait_ms: 0 }, max_in_flight: 1 },
  docs: {
    'batch.max_events': 'Most events sent in one produce batch.',
    max_in_flight:
      'Concurrent produce requests; events of one row never overtake each other. 1 (one batch spanning all partitions at a time) drained a backlog 1.4-1.5x faster than 4 in the bench.',
  },
  check: checkKafkaConfig,
  secrets: kafkaSecrets,
  load: () => import('./sink.js'),
});
