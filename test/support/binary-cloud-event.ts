import assert from 'node:assert/strict';
import { HTTP, type CloudEvent } from 'cloudevents';

/**
 * A CloudEvent in binary mode read as the HTTP binding (and the NATS one)
 * says: each ce-* value percent-decoded once, which the SDK (cloudevents
 * 10.0.0) does not do, then HTTP.toEvent; validated.
 */
export function binaryCloudEventOf(headers: Readonly<Record<string, string>>, body: string): CloudEvent<unknown> {
  const decoded = Object.fromEntries(
    Object.entries(headers).map(([name, value]) => [name, name.startsWith('ce-') ? decodeURIComponent(value) : value]),
  );
  const event = HTTP.toEvent({ headers: decoded, body }) as CloudEvent<unknown>;
  assert.equal(event.validate(), true);
  return event;
}
