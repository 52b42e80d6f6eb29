import type { SinkModule } from '../module.js';
import { checkMqttConfig, mqttSchema, mqttSecrets, type MqttConfig } from './config.js';
import { MqttSink } from './sink.js';

export type { MqttConfig, MqttSinkConfig } from './config.js';
export { MqttSink } from './sink.js';

export const mqttSink: SinkModule<MqttConfig> = {
  type: 'mqtt',
  schema: mqttSchema,
  check: checkMqttConfig,
  secrets: mqttSecrets,
  create: (config, ctx) => new MqttSink(config, ctx),
};
