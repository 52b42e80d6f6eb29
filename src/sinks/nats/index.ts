import type { SinkModule } from '../module.js';
import { checkNatsConfig, natsSchema, natsSecrets, type NatsConfig } from './config.js';
import { NatsSink } from './sink.js';

export type { NatsConfig, NatsSinkConfig } from './config.js';
export { NatsSink } from './sink.js';

export const natsSink: SinkModule<NatsConfig> = {
  type: 'nats',
  schema: natsSchema,
  check: checkNatsConfig,
  secrets: natsSecrets,
  create: (config, ctx) => new NatsSink(config, ctx),
};
