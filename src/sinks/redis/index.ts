import type { SinkModule } from '../module.js';
import { checkRedisConfig, redisSchema, redisSecrets, type RedisConfig } from './config.js';
import { loadNodeRedis } from './client.js';
import { RedisSink } from './sink.js';

export type { RedisConfig, RedisSinkConfig } from './config.js';
export { RedisSink } from './sink.js';

export const redisSink: SinkModule<RedisConfig> = {
  type: 'redis',
  schema: redisSchema,
  check: checkRedisConfig,
  secrets: redisSecrets,
  create: (config, ctx) => {
    loadNodeRedis().catch(() => undefined); // a failure shows at connect()
    return new RedisSink(config, ctx);
  },
};
