/**
 * The console in a real browser (Debian's chromium driven by playwright-core):
 * sign in with the token, watch a sink's events/s move while rows are
 * inserted, see an event refused with HTTP 400 appear as a dead letter with
 * its JSON, retry it from the console once the far end accepts it again, and
 * find it delivered there with the same id. Screenshots go to $PGBRIDGE_SCREENSHOTS
 * (default: a temp folder, printed).
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { Page } from 'playwright-core';
import { launchChromium } from '../support/browser.js';
import { cli, RunningBridge, waitFor, writeConfig } from '../support/bridge.js';
import { createTestDatabase, type TestDatabase } from '../support/pg.js';
import { freePort } from '../support/tcp.js';
import { WebhookServer } from '../support/webhook-server.js';

const TOKEN = 'browser-console-token-51c0e';
let db: TestDatabase;
let hook: WebhookServer;
let bridge: RunningBridge;
let browser: Awaited<ReturnType<typeof launchChromium>>;
let page: Page;
let base: string;
let refuse = false;
const shots = process.env.PGBRIDGE_SCREENSHOTS ?? mkdtempSync(path.join(tmpdir(), 'pgbridge-console-shots-'));

const accepted = () => hook.accepted().map((r) => JSON.parse(r.body) as { id: string; data: { id: number; name: string } });

before(async () => {
  mkdirSync(shots, { recursive: true });
  db = await createTestDatabase();
  await db.query('CREATE TABLE public.orders (id bigint PRIMARY KEY, customer text, amount numeric)');
  hook = new WebhookServer();
  hook.reply = () => (refuse ? { status: 400, body: 'unknown customer' } : { status: 204 });
  const url = await hook.start();
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  const config = writeConfig({
    postgres: { url: db.url },
    capture: [{ table: 'public.orders' }],
    sinks: [{ name: 'orders-hook', type: 'webhook', url }],
    http: { port, host: '127.0.0.1', token: TOKEN },
  });
  assert.equal((await cli(['install', '-c', config])).code, 0);
  bridge = new RunningBridge(config);
  await bridge.ready();
  browser = await launchChromium();
  page = await browser.context.newPage();
  page.on('pageerror', (err) => assert.fail(`console script error: ${err.message}`));
});

after(async () => {
  await browser?.close();
  await bridge?.kill('SIGTERM');
  await hook?.stop();
  await db?.drop();
  process.stderr.write(`console screenshots: ${shots}\n`);
});

const card = () => page.locator('article.sink[data-sink="orders-hook"]');
const fact = (name: string) => card().locator(`[data-fact="${name}"] dd`);

test('signing in with the token opens the console', async () => {
  await page.goto(base);
  await page.fill('#token', 'wrong-token');
  await page.click('button[type=submit]');
  await page.waitForSelector('text=Wrong token', { timeout: 20_000 });
  await page.fill('#token', TOKEN);
  await page.click('button[type=submit]');
  await card().waitFor({ timeout: 20_000 });
  assert.equal(await card().locator('.state').textContent(), 'delivering');
  assert.equal(await page.locator('#tables tbody td').first().textContent(), 'public.orders');
  const cookies = await browser.context.cookies();
  const session = cookies.find((c) => c.name === 'pgbridge_session');
  assert.ok(session?.httpOnly && session.sameSite === 'Strict', JSON.stringify(cookies));
  assert.ok(!(await page.evaluate(() => document.cookie)).includes('pgbridge_session'), 'the session cookie is readable from script');
});

test("a sink's events/s chart moves while rows are inserted", async () => {
  const rate = async () => Number(await card().getAttribute('data-events-per-second'));
  let next = 1;
  let seen = 0;
  const inserting = setInterval(() => {
    const from = next;
    next += 20;
    void db.query(`INSERT INTO public.orders SELECT g, 'c' || g, g * 1.5 FROM generate_series(${from}, ${from + 19}) g`).catch(() => {});
  }, 300);
  try {
    await waitFor(async () => (seen = await rate()) > 0, 30_000, 'events/s above 0 in the console');
  } finally {
    clearInterval(inserting);
  }
  assert.ok(seen > 0);
  await waitFor(
    async () => Number(((await fact('delivered').textContent()) ?? '0').replace(/,/g, '')) === next - 1,
    30_000,
    'every inserted row counted as delivered',
  );
  await waitFor(() => accepted().length === next - 1, 10_000, 'every row at the webhook');
  // The chart has drawn points: uPlot paints into its canvas.
  const painted = await card()
    .locator('.chart canvas')
    .first()
    .evaluate((c: HTMLCanvasElement) => c.width > 0 && c.height > 0);
  assert.ok(painted);
});

test('an event the sink refuses with 400 is listed as a dead letter with its JSON; retried from the console it reaches the far end', async () => {
  refuse = true;
  await db.query("INSERT INTO public.orders VALUES (9001, 'nobody', 12.34)");
  const row = page.locator('#dl-table tbody tr', { hasText: 'unknown customer' });
  await row.waitFor({ timeout: 30_000 });
  assert.equal(await row.locator('td').nth(2).textContent(), 'orders-hook');
  assert.match((await row.locator('td').nth(3).textContent()) ?? '', /HTTP 400: unknown customer/);
  await row.locator('td').nth(3).click();
  await page.waitForSelector('#dl-event:not([hidden])');
  const json = JSON.parse((await page.locator('#dl-event-json').textContent()) ?? '') as { id: string; data: { id: number; customer: string } };
  assert.deepEqual(json.data, { id: 9001, customer: 'nobody', amount: 12.34 });
  await waitFor(async () => (await fact('dead letters').textContent()) === '1', 15_000, 'the dead-letter count in the sink card');

  await page.fill('#dl-text', 'no-such-text');
  await page.locator('#dl-empty:not([hidden])').waitFor({ timeout: 10_000 });
  await page.fill('#dl-text', 'unknown customer');
  await row.waitFor({ timeout: 10_000 });
  await page.screenshot({ path: path.join(shots, 'console.png'), fullPage: true });

  refuse = false;
  await row.locator('input[type=checkbox]').check();
  await page.click('#dl-retry');
  await page.waitForSelector('#dl-result:text("1 dead letter(s) queued for delivery again")', { timeout: 15_000 });
  await waitFor(() => accepted().some((e) => e.data.id === 9001), 20_000, 'the retried event at the webhook');
  assert.equal(accepted().find((e) => e.data.id === 9001)?.id, json.id, 'the retried event has a new id');
  await page.locator('#dl-empty:not([hidden])').waitFor({ timeout: 15_000 });
  await waitFor(async () => (await fact('dead letters').textContent()) === '0', 15_000, 'the dead-letter count back to 0');
  await page.screenshot({ path: path.join(shots, 'console-after-retry.png'), fullPage: true });
});
