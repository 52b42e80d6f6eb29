import type { BridgeEvent } from '../../event.js';
import { binaryCloudEvent, encodeEvent, type FormatContext } from '../../formats/index.js';
import { cloudEventsHeaderValue } from '../../formats/percent-encoding.js';
import type { WebhookSinkConfig } from './config.js';

export interface WebhookRequest {
  readonly body: string;
  readonly headers: Readonly<Record<string, string>>;
  /** Stable across retries of the same batch: Standard Webhooks' webhook-id. */
  readonly messageId: string;
}

/** The content headers of the non-binary formats, shared: one object per content type, not one per request. */
const CONTENT_HEADERS: Record<string, Readonly<Record<string, string>>> = {};
function contentHeaders(contentType: string): Readonly<Record<string, string>> {
  return (CONTENT_HEADERS[contentType] ??= Object.freeze({ 'content-type': contentType }));
}

/** Body and content headers for one POST, in the sink's format. */
export function buildRequest(batch: readonly BridgeEvent[], config: WebhookSinkConfig, ctx: FormatContext): WebhookRequest {
  const single = config.batch.max_events === 1;
  const messageId = single ? batch[0].id : `${batch[0].id}-${batch[batch.length - 1].id}`;
  if (config.format === 'cloudevents' && config.cloudevents_mode === 'binary') {
    // CloudEvents HTTP binding: attributes as ce-* headers, percent-encoded, datacontenttype as Content-Type.
    const cloudEvent = binaryCloudEvent(batch[0], ctx, 'ce-', cloudEventsHeaderValue);
    return { body: cloudEvent.data, headers: { 'content-type': cloudEvent.contentType, ...cloudEvent.attributes }, messageId };
  }
  const contentType =
    config.format !== 'cloudevents' ? 'application/json' : single ? 'application/cloudevents+json' : 'application/cloudevents-batch+json';
  const body = single ? encodeEvent(batch[0], config.format, ctx) : jsonArray(batch, config.format, ctx);
  return { body, headers: contentHeaders(contentType), messageId };
}

/**
 * The events as one JSON array, its brackets joined in with the first and
 * last event: `[${join}]` made a string of three parts that undici's
 * Buffer.from() copied whole once more before encoding it.
 */
function jsonArray(batch: readonly BridgeEvent[], format: WebhookSinkConfig['format'], ctx: FormatContext): string {
  const parts = batch.map((event) => encodeEvent(event, format, ctx));
  parts[0] = `[${parts[0]}`;
  parts[parts.length - 1] += ']';
  return parts.join(',');
}
