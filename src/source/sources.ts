import type { DeliveryMode } from '../config/schema.js';
import { NotifySource } from './notify-source.js';
import { OutboxSource } from './outbox-source.js';
import type { Source, SourceContext } from './source.js';
import { WalCaptureSource } from './wal/wal-capture-source.js';

/** One source per `delivery` mode. */
export const sources: Record<DeliveryMode, (ctx: SourceContext) => Source> = {
  outbox: (ctx) => new OutboxSource(ctx),
  notify: (ctx) => new NotifySource(ctx),
  wal: (ctx) => new WalCaptureSource(ctx),
};
