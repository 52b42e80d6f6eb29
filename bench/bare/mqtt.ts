/**
 * The MQTT ceiling: MQTT.js, MQTT 5, QoS 1 (PUBACK awaited), the sink's
 * content type and user properties, as many publishes unacknowledged as the
 * broker's Receive Maximum (Mosquitto: 20), which the sink honours too.
 */
import mqtt from 'mqtt';
import { eventBody } from '../event-body.js';
import { monoMs, runBare } from './job.js';

await runBare(async ({ server, destination, table, firstId, count }) => {
  const client = mqtt.connect(server, { protocolVersion: 5, clean: true, reconnectPeriod: 0 });
  const connack = await new Promise<{ properties?: { receiveMaximum?: number } }>((resolve, reject) => {
    client.once('connect', resolve);
    client.once('error', reject);
  });
  const window = connack.properties?.receiveMaximum ?? 65_535;
  let next = 0;
  const firstPublishAt = monoMs();
  const worker = async (): Promise<void> => {
    while (next < count) {
      const id = firstId + next++;
      await client.publishAsync(destination, Buffer.from(eventBody(table, id)), {
        qos: 1,
        properties: {
          payloadFormatIndicator: true,
          contentType: 'application/json',
          userProperties: { 'pgbridge-id': String(id), 'pgbridge-op': 'INSERT', 'pgbridge-table': `public.${table}` },
        },
      });
    }
  };
  await Promise.all(Array.from({ length: window }, worker));
  await client.endAsync();
  return firstPublishAt;
});
