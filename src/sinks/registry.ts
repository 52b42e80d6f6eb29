import type { ConfigFormat } from '../config/formats.js';
import type { SinkConfig } from '../config/types.js';
import { amqpDescriptor } from './amqp/descriptor.js';
import { eraseConfigType, type AnySinkDescriptor } from './descriptor.js';
import { kafkaDescriptor } from './kafka/descriptor.js';
import { natsDescriptor } from './nats/descriptor.js';
import { mqttDescriptor } from './mqtt/descriptor.js';
import { redisDescriptor } from './redis/descriptor.js';
import { stdoutDescriptor } from './stdout/descriptor.js';
import { webhookDescriptor } from './webhook/descriptor.js';

const descriptors: readonly AnySinkDescriptor[] = [
  eraseConfigType(webhookDescriptor),
  eraseConfigType(amqpDescriptor),
  eraseConfigType(kafkaDescriptor),
  eraseConfigType(stdoutDescriptor),
  eraseConfigType(natsDescriptor),
  eraseConfigType(mqttDescriptor),
  eraseConfigType(redisDescriptor),
];

/** Every sink type, by the `type` a config names. A new type is one folder and one entry in the list above. */
export const sinkTypes: ReadonlyMap<string, AnySinkDescriptor> = new Map(descriptors.map((d) => [d.type, d]));

/** Why a standby leaves this sink unconnected rather than check it (see SinkDescriptor.notCheckedOnStandby), or undefined. */
export const notCheckedOnStandby = (sink: SinkConfig): string | undefined => sinkTypes.get(sink.type)?.notCheckedOnStandby?.(sink);

/** The convict formats the sink types bring, each name owned by one type. */
export function sinkFormats(): Record<string, ConfigFormat> {
  const formats: Record<string, ConfigFormat> = {};
  for (const descriptor of sinkTypes.values()) {
    for (const [name, format] of Object.entries(descriptor.formats ?? {})) {
      if (name in formats) throw new Error(`config format ${name} is defined by two sink types`);
      formats[name] = format;
    }
  }
  return formats;
}
