import { urlFormat } from '../../config/formats.js';
import { defineSink } from '../descriptor.js';
import { checkMqttConfig, mqttSchema, mqttSecrets } from './config.js';

export const mqttDescriptor = defineSink({
  type: 'mqtt',
  reference:
    "Each event is an MQTT 5 PUBLISH to the `topic` template's topic at `qos` 1 or 2, with user properties `pgbridge-id`, `pgbridge-op`, `pgbridge-table` (or `pgbridge-channel`; control characters and `%` percent-encoded) and content type `application/json`: a delivery counts once the broker answered PUBACK (QoS 1) or PUBCOMP (QoS 2). A batch's PUBLISHes are pipelined, but one of a row with a primary key waits for the acknowledgement of that row's previous one (a broker can refuse one, a quota, and take the next). A topic the broker refuses (not authorized, topic name invalid), a rendered topic with `+` or `#` or a control character, and an event over the broker's Maximum Packet Size are permanent.",
  schema: mqttSchema,
  // The broker's Receive Maximum (Mosquitto: 20) caps what is unacknowledged: larger batches only wait in memory.
  defaults: { batch: { max_events: 100, max_wait_ms: 0 }, max_in_flight: 4 },
  docs: {
    'batch.max_events':
      "Most events published in one pipelined batch before awaiting their acknowledgements; the broker's Receive Maximum (from its CONNACK) caps how many are unacknowledged at once.",
  },
  formats: { 'mqtt-url': urlFormat(['mqtt:', 'mqtts:']) },
  check: checkMqttConfig,
  // Brokers keep one connection per client id.
  notCheckedOnStandby: (config) => (config.client_id === null ? undefined : 'its fixed client_id allows one connection'),
  secrets: mqttSecrets,
  load: () => import('./sink.js'),
});
