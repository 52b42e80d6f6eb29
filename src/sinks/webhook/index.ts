import type { SinkModule } from '../module.js';
import { checkWebhook, webhookSchema, webhookSecrets, type WebhookConfig, type WebhookSinkConfig } from './config.js';
import { WebhookSink } from './sink.js';

export const webhookSink: SinkModule<WebhookConfig> = {
  type: 'webhook',
  schema: webhookSchema,
  check: (config) => checkWebhook(config as WebhookSinkConfig),
  secrets: (config) => webhookSecrets(config as WebhookSinkConfig),
  create: (config, ctx) => new WebhookSink(config as WebhookSinkConfig, ctx),
};
