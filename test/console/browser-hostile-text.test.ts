/**
 * Everything the console shows comes from names in the config and Postgres,
 * rows and far ends' error bodies: text an attacker may write. In each real
 * browser of BROWSERS, names and errors made of markup are shown as that text,
 * and none of it runs (a global it would set stays unset, no dialog opens, no
 * script error or CSP violation).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { BROWSERS, type BrowserName, type BrowserPage, countOf, shown, textOf } from '../support/browser.js';
import { consoleInBrowser, type ConsoleInBrowser } from '../support/console-in-browser.js';
import { createTestDatabase, type TestDatabase } from '../support/pg.js';
import { WebhookServer } from '../support/webhook-server.js';

const TOKEN = 'hostile-text-token-8c2d';
const SCHEMA = '<b onmouseover=alert(1)>s';
const TABLE = '<img src=x onerror=window.__ran=1>';
const ROW = '"><svg onload=window.__ran=2>';
const FAR_END = '<script>window.__ran=3</script><a href="javascript:window.__ran=4">x</a>';
const FIRST_ROW = '#dl-table tbody tr:first-child';

for (const name of BROWSERS) describe(`hostile text in ${name}`, () => hostileText(name));

function hostileText(name: BrowserName): void {
  let db: TestDatabase;
  let hook: WebhookServer;
  let opened: ConsoleInBrowser | undefined;
  let page: BrowserPage;
  let base: string;

  before(async () => {
    db = await createTestDatabase('aud_console');
    await db.query(`CREATE SCHEMA "${SCHEMA}"`);
    await db.query(`CREATE TABLE "${SCHEMA}"."${TABLE}" (id bigint PRIMARY KEY, name text)`);
    hook = new WebhookServer();
    hook.reply = (req) => ({ status: 400, headers: { 'content-type': 'text/html' }, body: `${FAR_END} ${req.body}` });
    opened = await consoleInBrowser(name, db, { table: `"${SCHEMA}"."${TABLE}"`, sink: 'hook', url: await hook.start(), token: TOKEN });
    ({ page, base } = opened);
    await db.query(`INSERT INTO "${SCHEMA}"."${TABLE}" VALUES (1, $1)`, [ROW]);
  });

  after(async () => {
    await opened?.close();
    await hook?.stop();
    await db?.drop();
  });

  test('table and schema names, a dead letter error and its event, and a search made of markup are shown as text and never run', async () => {
    await page.goto(`${base}/?wrong=<script>window.__ran=5</script>#<img src=x onerror=window.__ran=6>`);
    await page.fill('#token', TOKEN);
    await page.click('button[type=submit]');
    await shown(page, FIRST_ROW, 30_000);
    assert.equal(await textOf(page, '#tables tbody td'), `${SCHEMA}.${TABLE}`);
    const error = (await textOf(page, `${FIRST_ROW} td:nth-child(4)`)) ?? '';
    assert.ok(error.includes(FAR_END), error);
    await page.click(`${FIRST_ROW} td:nth-child(4)`);
    await shown(page, '#dl-event', 10_000);
    assert.equal((JSON.parse((await textOf(page, '#dl-event-json')) ?? '') as { data: { name: string } }).data.name, ROW);
    await page.fill('#dl-text', '<img src=x onerror=window.__ran=7>');
    await shown(page, '#dl-empty', 10_000);
    await page.fill('#dl-text', 'svg onload');
    await shown(page, FIRST_ROW, 10_000);
    await page.hover('#tables tbody td');
    await new Promise((resolve) => setTimeout(resolve, 500)); // as long as a handler it set off would need to run

    // Nothing made of the attacker's text became an element.
    for (const selector of ['main img', 'main svg:not(.u-legend svg)', 'main script', 'main a', 'main b']) {
      assert.equal(await countOf(page, selector), 0, selector);
    }
    assert.equal(await page.evaluate(() => (window as unknown as { __ran?: number }).__ran, null), undefined);
    assert.deepEqual(page.dialogs, []);
    assert.deepEqual(page.problems, []);
  });
}
