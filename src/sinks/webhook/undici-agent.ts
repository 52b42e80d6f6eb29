import { createRequire } from 'node:module';
import type { Agent as UndiciAgent } from 'undici';

// Not named `require`: the bundle (scripts/bundle.mjs) defines that name at the top of every file.
const requireHere = createRequire(import.meta.url);

/**
 * undici's Agent on its own. The package's index loads fetch, WebSocket,
 * EventSource, the caches and the mocks as well: 115 ms of CPU at startup
 * against 35 ms for the Agent, and the sink loads while the bridge starts.
 * The module path is not part of undici's documented API, so when a release
 * moves it the index is loaded instead.
 */
function loadAgent(): typeof UndiciAgent {
  try {
    return requireHere('undici/lib/dispatcher/agent.js') as typeof UndiciAgent;
  } catch {
    return (requireHere('undici') as typeof import('undici')).Agent;
  }
}

export const Agent = loadAgent();
export type Agent = UndiciAgent;
