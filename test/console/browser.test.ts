/**
 * The console in real browsers, the same steps in each of BROWSERS (Debian's chromium and
 * firefox-esr, see test/support/browser.ts): sign in with the token, watch a sink's
 * events/s move while rows are inserted, see an event refused with HTTP 400 appear as a
 * dead letter with its JSON, retry it from the console once the far end accepts it again,
 * and find it delivered there with the same id; no script error or CSP violation on the
 * way. Screenshots go to $PGBRIDGE_SCREENSHOTS (default: a temp folder, printed).
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BROWSERS, type BrowserName, type BrowserPage, shown, shownWithText, textOf } from '../support/browser.js';
import { waitFor } from '../support/bridge.js';
import { consoleInBrowser, type ConsoleInBrowser } from '../support/console-in-browser.js';
import { createTestDatabase, type TestDatabase } from '../support/pg.js';
import { WebhookServer } from '../support/webhook-server.js';

const TOKEN = 'browser-console-token-51c0e';
const shots = process.env.PGBRIDGE_SCREENSHOTS ?? mkdtempSync(path.join(tmpdir(), 'pgbridge-console-shots-'));
const CARD = 'article.sink[data-sink="orders-hook"]';
const fact = (name: string) => `${CARD} [data-fact="${name}"] dd`;

for (const name of BROWSERS) describe(`the console in ${name}`, () => consoleFlow(name));

function consoleFlow(name: BrowserName): void {
  let db: TestDatabase;
  let hook: WebhookServer;
  let opened: ConsoleInBrowser | undefined;
  let page: BrowserPage;
  let base: string;
  let refuse = false;

  const accepted = () => hook.accepted().map((r) => JSON.parse(r.body) as { id: string; data: { id: number; name: string } });
  const text = (selector: string) => textOf(page, selector);

  before(async () => {
    mkdirSync(shots, { recursive: true });
    db = await createTestDatabase();
    await db.query('CREATE TABLE public.orders (id bigint PRIMARY KEY, customer text, amount numeric)');
    hook = new WebhookServer();
    hook.reply = () => (refuse ? { status: 400, body: 'unknown customer' } : { status: 204 });
    opened = await consoleInBrowser(name, db, { table: 'public.orders', sink: 'orders-hook', url: await hook.start(), token: TOKEN });
    ({ page, base } = opened);
  });

  after(async () => {
    await opened?.close();
    await hook?.stop();
    await db?.drop();
    process.stderr.write(`console screenshots (${name}): ${shots}\n`);
  });

  test('signing in with the token opens the console', async () => {
    await page.goto(base);
    await page.fill('#token', 'wrong-token');
    await page.click('button[type=submit]');
    await shownWithText(page, 'p.wrong', 'Wrong token', 20_000);
    await page.fill('#token', TOKEN);
    await page.click('button[type=submit]');
    await shown(page, CARD, 20_000);
    await waitFor(async () => (await text(`${CARD} .state`)) === 'delivering', 10_000, 'the sink shown as delivering');
    assert.equal(await text('#tables tbody td'), 'public.orders');
    const cookies = await page.cookies();
    const session = cookies.find((c) => c.name === 'pgbridge_session');
    assert.ok(session?.httpOnly && session.sameSite === 'Strict', JSON.stringify(cookies));
    assert.ok(!(await page.evaluate(() => document.cookie, null)).includes('pgbridge_session'), 'the session cookie is readable from script');
    assert.deepEqual(page.problems, []);
  });

  test("a sink's events/s chart moves while rows are inserted", async () => {
    const rate = async () => Number(await page.evaluate((s) => document.querySelector(s)?.getAttribute('data-events-per-second'), CARD));
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
      async () => Number(((await text(fact('delivered'))) ?? '0').replace(/,/g, '')) === next - 1,
      30_000,
      'every inserted row counted as delivered',
    );
    await waitFor(() => accepted().length === next - 1, 10_000, 'every row at the webhook');
    // The chart has drawn points: uPlot paints into its canvas.
    const painted = await page.evaluate((s) => {
      const canvas = document.querySelector<HTMLCanvasElement>(`${s} .chart canvas`);
      return !!canvas && canvas.width > 0 && canvas.height > 0;
    }, CARD);
    assert.ok(painted);
    assert.deepEqual(page.problems, []);
  });

  test('an event the sink refuses with 400 is listed as a dead letter with its JSON; retried from the console it reaches the far end', async () => {
    refuse = true;
    await db.query("INSERT INTO public.orders VALUES (9001, 'nobody', 12.34)");
    await shownWithText(page, '#dl-table tbody tr', 'unknown customer', 30_000);
    const id = await page.evaluate(
      () => [...document.querySelectorAll<HTMLElement>('#dl-table tbody tr')].find((r) => r.textContent?.includes('unknown customer'))?.dataset.id,
      null,
    );
    assert.ok(id);
    const row = `#dl-table tbody tr[data-id="${id}"]`;
    assert.equal(await text(`${row} td:nth-child(3)`), 'orders-hook');
    assert.match((await text(`${row} td:nth-child(4)`)) ?? '', /HTTP 400: unknown customer/);
    await page.click(`${row} td:nth-child(4)`);
    await shown(page, '#dl-event', 10_000);
    const json = JSON.parse((await text('#dl-event-json')) ?? '') as { id: string; data: { id: number; customer: string } };
    assert.deepEqual(json.data, { id: 9001, customer: 'nobody', amount: 12.34 });
    await waitFor(async () => (await text(fact('dead letters'))) === '1', 15_000, 'the dead-letter count in the sink card');

    await page.fill('#dl-text', 'no-such-text');
    await shown(page, '#dl-empty', 10_000);
    await page.fill('#dl-text', 'unknown customer');
    await shown(page, row, 10_000);
    await page.screenshot(path.join(shots, `console-${name}.png`));

    refuse = false;
    await page.click(`${row} input[type=checkbox]`);
    await page.click('#dl-retry');
    await shownWithText(page, '#dl-result', '1 dead letter(s) queued for delivery again', 15_000);
    await waitFor(() => accepted().some((e) => e.data.id === 9001), 20_000, 'the retried event at the webhook');
    assert.equal(accepted().find((e) => e.data.id === 9001)?.id, json.id, 'the retried event has a new id');
    await shown(page, '#dl-empty', 15_000);
    await waitFor(async () => (await text(fact('dead letters'))) === '0', 15_000, 'the dead-letter count back to 0');
    await page.screenshot(path.join(shots, `console-${name}-after-retry.png`));
    assert.deepEqual(page.problems, []);
    assert.deepEqual(page.dialogs, []);
  });
}
