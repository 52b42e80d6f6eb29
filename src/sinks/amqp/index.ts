import type { SinkModule } from '../module.js';
import { amqpSchema, amqpSecrets, checkAmqpConfig, type AmqpConfig } from './config.js';
import { AmqpSink } from './sink.js';

export type { AmqpConfig } from './config.js';
export { AmqpSink } from './sink.js';

export const amqpSink: SinkModule<AmqpConfig> = {
  type: 'amqp',
  schema: amqpSchema,
  check: checkAmqpConfig,
  secrets: amqpSecrets,
  create: (config, ctx) => new AmqpSink(config, ctx),
};
