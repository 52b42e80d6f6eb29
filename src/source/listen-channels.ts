import type { BridgeConfig } from '../config/types.js';
import { Listener, type ListenerHandlers } from './listener.js';
import type { SourceContext } from './source.js';

/** The listener every trigger-based source uses: the capture triggers' channel, then the configured channels. */
export function listenChannels(ctx: SourceContext, handlers: ListenerHandlers): Listener {
  const config: BridgeConfig = ctx.config;
  return new Listener(config, [config.notifyChannel, ...config.channels], ctx.logger.child({ component: 'listener' }), handlers);
}
