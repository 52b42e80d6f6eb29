import { RetriableError } from '../../errors.js';
import type { NatsPublisher, NatsPublisherFactory, PublishOutcome } from './client.js';
import { NATS_UNAVAILABLE } from './errors.js';
import type { NatsMessage } from './message.js';

/** The NATS client is loaded on the first connect, not at startup: a process without a nats sink never pays for it. */
export const createLazyNatsPublisher: NatsPublisherFactory = (settings) => {
  let publisher: NatsPublisher | undefined;
  return {
    async connect(onLost: (reason: string) => void): Promise<void> {
      const { createNatsPublisher } = await import('./client.js');
      publisher ??= createNatsPublisher(settings);
      await publisher.connect(onLost);
    },
    publish(messages: readonly NatsMessage[]): Promise<PublishOutcome[]> {
      if (publisher === undefined) return Promise.reject(new RetriableError('nats: publish before connect()', { code: NATS_UNAVAILABLE }));
      return publisher.publish(messages);
    },
    async close(): Promise<void> {
      await publisher?.close();
    },
  };
};
