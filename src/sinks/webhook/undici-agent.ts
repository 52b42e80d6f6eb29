import { createRequire } from 'node:module';
import type { Agent as UndiciAgent } from 'undici';

const require = createRequire(import.meta.url);

/**
 * undici's Agent on its own. The package's index loads fetch, WebSocket,
 * EventSource, the caches and the mocks as well: 115 ms of CPU at startup
 * against 35 ms for the Agent, and the sink loads while the bridge starts.
 * The module path is not part of undici's documented API, so when a release
 * moves it the index is loaded instead.
 */
function loadAgent(): typeof UndiciAgent {
  try {
    return require('undici/lib/dispatcher/agent.js') as typeof UndiciAgent;
  } catch {
    return (require('undici') as typeof import('undici')).Agent;
  }
}

export const Agent = loadAgent();
export type Agent = UndiciAgent;
