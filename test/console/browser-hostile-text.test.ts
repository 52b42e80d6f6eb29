/**
 * Everything the console shows comes from names in the config and Postgres,
 * rows and far ends' error bodies: text an attacker may write. In a real
 * browser, names and errors made of markup are shown as that text, and none of
 * it runs (a global it would set stays unset, no dialog opens).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Page } from 'playwright-core';
import { launchChromium } from '../support/browser.js';
import { cli, RunningBridge, writeConfig } from '../support/bridge.js';
import { createTestDatabase, type TestDatabase } from '../support/pg.js';
import { freePort } from '../support/tcp.js';
import { WebhookServer } from '../support/webhook-server.js';

const TOKEN = 'hostile-text-token-8c2d';
const SCHEMA = '<b onmouseover=alert(1)>s';
const TABLE = '<img src=x onerror=window.__ran=1>';
const ROW = '"><svg onload=window.__ran=2>';
const FAR_END = '<script>window.__ran=3</script><a href="javascript:window.__ran=4">x</a>';
let db: TestDatabase;
let hook: WebhookServer;
let bridge: RunningBridge;
let browser: Awaited<ReturnType<typeof launchChromium>>;
let page: Page;
let base: string;
const dialogs: string[] = [];

before(async () => {
  db = await createTestDatabase('aud_console');
  await db.query(`CREATE SCHEMA "${SCHEMA}"`);
  await db.query(`CREATE TABLE "${SCHEMA}"."${TABLE}" (id bigint PRIMARY KEY, name text)`);
  hook = new WebhookServer();
  hook.reply = (req) => ({ status: 400, headers: { 'content-type': 'text/html' }, body: `${FAR_END} ${req.body}` });
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  const config = writeConfig({
    postgres: { url: db.url },
    capture: [{ table: `"${SCHEMA}"."${TABLE}"` }],
    sinks: [{ name: 'hook', type: 'webhook', url: await hook.start() }],
    http: { port, host: '127.0.0.1', token: TOKEN },
  });
  assert.equal((await cli(['install', '-c', config])).code, 0);
  bridge = new RunningBridge(config);
  await bridge.ready();
  await db.query(`INSERT INTO "${SCHEMA}"."${TABLE}" VALUES (1, $1)`, [ROW]);
  browser = await launchChromium();
  page = await browser.context.newPage();
  page.on('dialog', (dialog) => {
    dialogs.push(dialog.message());
    void dialog.dismiss();
  });
});

after(async () => {
  await browser?.close();
  await bridge?.kill('SIGTERM');
  await hook?.stop();
  await db?.drop();
});

test('table and schema names, a dead letter error and its event, and a search made of markup are shown as text and never run', async () => {
  await page.goto(`${base}/?wrong=<script>window.__ran=5</script>#<img src=x onerror=window.__ran=6>`);
  await page.fill('#token', TOKEN);
  await page.click('button[type=submit]');
  const row = page.locator('#dl-table tbody tr').first();
  await row.waitFor({ timeout: 30_000 });
  assert.equal(await page.locator('#tables tbody td').first().textContent(), `${SCHEMA}.${TABLE}`);
  const error = (await row.locator('td').nth(3).textContent()) ?? '';
  assert.ok(error.includes(FAR_END), error);
  await row.locator('td').nth(3).click();
  await page.waitForSelector('#dl-event:not([hidden])');
  assert.equal((JSON.parse((await page.locator('#dl-event-json').textContent()) ?? '') as { data: { name: string } }).data.name, ROW);
  await page.fill('#dl-text', '<img src=x onerror=window.__ran=7>');
  await page.locator('#dl-empty:not([hidden])').waitFor({ timeout: 10_000 });
  await page.fill('#dl-text', 'svg onload');
  await row.waitFor({ timeout: 10_000 });
  await page.hover('#tables tbody td');
  await page.waitForTimeout(500);

  // Nothing made of the attacker's text became an element.
  for (const selector of ['main img', 'main svg:not(.u-legend svg)', 'main script', 'main a', 'main b']) {
    assert.equal(await page.locator(selector).count(), 0, selector);
  }
  assert.equal(await page.evaluate(() => (window as unknown as { __ran?: number }).__ran), undefined);
  assert.deepEqual(dialogs, []);
});
