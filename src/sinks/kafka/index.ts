import type { SinkModule } from '../module.js';
import { checkKafkaConfig, kafkaSchema, kafkaSecrets, type KafkaConfig } from './config.js';
import { KafkaSink } from './sink.js';

export type { KafkaConfig, KafkaSinkConfig } from './config.js';
export { KafkaSink } from './sink.js';

export const kafkaSink: SinkModule<KafkaConfig> = {
  type: 'kafka',
  schema: kafkaSchema,
  check: checkKafkaConfig,
  secrets: kafkaSecrets,
  create: (config, ctx) => new KafkaSink(config, ctx),
};
