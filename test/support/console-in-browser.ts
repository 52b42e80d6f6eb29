/**
 * What the browser tests of test/console/ start from: a bridge capturing one table into one
 * webhook sink, its console behind a token, and a browser of BROWSERS to open it in.
 */
import assert from 'node:assert/strict';
import { type BrowserName, type BrowserPage, launchBrowser } from './browser.js';
import { cli, RunningBridge, writeConfig } from './bridge.js';
import type { TestDatabase } from './pg.js';
import { freePort } from './tcp.js';

export interface ConsoleInBrowser {
  readonly page: BrowserPage;
  /** The console's address, http://127.0.0.1:<port>. */
  readonly base: string;
  /** Closes the browser, then stops the bridge. */
  close(): Promise<void>;
}

export async function consoleInBrowser(
  name: BrowserName,
  db: TestDatabase,
  { table, sink, url, token }: { table: string; sink: string; url: string; token: string },
): Promise<ConsoleInBrowser> {
  const port = await freePort();
  const config = writeConfig({
    postgres: { url: db.url },
    capture: [{ table }],
    sinks: [{ name: sink, type: 'webhook', url }],
    http: { port, host: '127.0.0.1', token },
  });
  assert.equal((await cli(['install', '-c', config])).code, 0);
  const bridge = new RunningBridge(config);
  await bridge.ready();
  let page: BrowserPage;
  try {
    page = await launchBrowser(name);
  } catch (err) {
    await bridge.kill('SIGTERM');
    throw err;
  }
  return {
    page,
    base: `http://127.0.0.1:${port}`,
    async close() {
      await page.close();
      await bridge.kill('SIGTERM');
    },
  };
}
