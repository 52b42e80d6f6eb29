import { amqpSink } from './amqp/index.js';
import { kafkaSink } from './kafka/index.js';
import { redisSink } from './redis/index.js';
import type { SinkModule } from './module.js';
import { stdoutSink } from './stdout.js';
import { webhookSink } from './webhook/index.js';

/** Every sink type, by the `type` a config names. */
export const sinkModules: ReadonlyMap<string, SinkModule<object>> = new Map<string, SinkModule<object>>(
  [webhookSink, amqpSink, kafkaSink, stdoutSink, redisSink].map((m) => [m.type, m as SinkModule<object>]),
);
