/**
 * The console in real browsers, behind one small page interface so that a test runs the
 * same steps in each. Debian's chromium is driven by playwright-core; Debian's firefox-esr
 * by puppeteer-core over WebDriver BiDi (playwright-core drives only its own patched
 * Firefox build, and its BiDi mode asks stock Firefox ESR for commands it lacks, such as
 * emulation.setMediaFeaturesOverride). Both run headless with a fresh profile removed on
 * close; nothing either does reaches the network beyond what the page asks for (puppeteer's
 * Firefox profile points Mozilla's services at an address that does not resolve).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import puppeteer from 'puppeteer-core';

export const CHROMIUM = process.env.PGBRIDGE_TEST_CHROMIUM ?? '/usr/bin/chromium';
export const FIREFOX = process.env.PGBRIDGE_TEST_FIREFOX ?? '/usr/bin/firefox-esr';

export type BrowserName = 'chromium' | 'firefox';
/** Every browser the console is tested in (CONTRACT.md §5: current Chromium and Firefox). */
export const BROWSERS: readonly BrowserName[] = ['chromium', 'firefox'];

const VIEWPORT = { width: 1280, height: 900 };
const CSP_MARK = 'pgbridge test: CSP violation:';

export interface BrowserPage {
  readonly name: BrowserName;
  /** Script errors and CSP violations on every page loaded so far, in order. */
  readonly problems: string[];
  /** The messages of the dialogs (alert, confirm, prompt) that opened; each was dismissed. */
  readonly dialogs: string[];
  goto(url: string): Promise<void>;
  /** Types text into the field, replacing its value (waits for the field). */
  fill(selector: string, text: string): Promise<void>;
  /** Clicks the element (waits for it to be visible). */
  click(selector: string): Promise<void>;
  hover(selector: string): Promise<void>;
  evaluate<R, A>(fn: (arg: A) => R, arg: A): Promise<R>;
  /** Resolves once fn(arg) is truthy in the page, also across a navigation. */
  waitUntil<A>(fn: (arg: A) => unknown, arg: A, timeoutMs: number): Promise<void>;
  cookies(): Promise<Array<{ name: string; httpOnly?: boolean; sameSite?: string }>>;
  screenshot(file: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * Collects a page's script errors, CSP violations (which reportViolations logs) and
 * dialogs; both libraries' pages report them as these events.
 */
function watcher() {
  const problems: string[] = [];
  const dialogs: string[] = [];
  return {
    problems,
    dialogs,
    pageerror: (err: unknown) => void problems.push(`script error: ${err instanceof Error ? err.message : String(err)}`),
    console: (message: { text(): string }) => {
      if (message.text().startsWith(CSP_MARK)) problems.push(message.text());
    },
    dialog: (dialog: { message(): string; dismiss(): Promise<void> }) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    },
  };
}

/**
 * Runs in every document before its own scripts: a CSP violation (a blocked script, style
 * or request) is logged to the console, where watcher() picks it up. Self-contained (the
 * drivers send its source text): the mark is repeated in it.
 */
function reportViolations(): void {
  document.addEventListener('securitypolicyviolation', (e) =>
    console.error(`pgbridge test: CSP violation: ${e.violatedDirective} blocked ${e.blockedURI} at ${e.sourceFile}:${e.lineNumber}`),
  );
}

/** Debian's chromium, headless, driven by playwright-core. */
export async function launchChromium(): Promise<BrowserPage> {
  const profile = mkdtempSync(path.join(tmpdir(), 'pgbridge-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: VIEWPORT,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  await context.addInitScript(reportViolations);
  const page = await context.newPage();
  const seen = watcher();
  page.on('pageerror', seen.pageerror).on('console', seen.console).on('dialog', seen.dialog);
  return {
    name: 'chromium',
    problems: seen.problems,
    dialogs: seen.dialogs,
    goto: async (url) => void (await page.goto(url)),
    fill: (selector, text) => page.fill(selector, text),
    click: (selector) => page.click(selector),
    hover: (selector) => page.hover(selector),
    // The arguments are plain JSON here: playwright's types for handles inside them do not apply.
    evaluate: <R, A>(fn: (arg: A) => R, arg: A) => page.evaluate(fn as (arg: unknown) => R, arg as unknown),
    waitUntil: async <A>(fn: (arg: A) => unknown, arg: A, timeout: number) =>
      void (await page.waitForFunction(fn as (arg: unknown) => unknown, arg as unknown, { timeout })),
    cookies: () => context.cookies(),
    screenshot: async (file) => void (await page.screenshot({ path: file, fullPage: true })),
    async close() {
      await context.close().catch(() => {});
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Debian's firefox-esr, headless, driven by puppeteer-core over WebDriver BiDi. */
export async function launchFirefox(): Promise<BrowserPage> {
  const browser = await puppeteer.launch({
    browser: 'firefox',
    protocol: 'webDriverBiDi',
    executablePath: FIREFOX,
    headless: true,
    defaultViewport: VIEWPORT,
  });
  const page = await browser.newPage();
  await page.evaluateOnNewDocument(reportViolations);
  const seen = watcher();
  page.on('pageerror', seen.pageerror).on('console', seen.console).on('dialog', seen.dialog);
  return {
    name: 'firefox',
    problems: seen.problems,
    dialogs: seen.dialogs,
    goto: async (url) => void (await page.goto(url)),
    fill: (selector, text) => page.locator(selector).fill(text),
    click: (selector) => page.locator(selector).click(),
    hover: (selector) => page.locator(selector).hover(),
    evaluate: <R, A>(fn: (arg: A) => R, arg: A) => page.evaluate(fn as (arg: unknown) => R, arg) as Promise<R>,
    waitUntil: async <A>(fn: (arg: A) => unknown, arg: A, timeout: number) =>
      void (await page.waitForFunction(fn as (arg: unknown) => unknown, { timeout }, arg)),
    cookies: () => page.browserContext().cookies(),
    screenshot: async (file) => void (await page.screenshot({ path: file, fullPage: true })),
    close: () => browser.close().catch(() => {}),
  };
}

export const launchBrowser = (name: BrowserName): Promise<BrowserPage> => (name === 'firefox' ? launchFirefox() : launchChromium());

/** The text of the first element matching selector (null: none). */
export const textOf = (page: BrowserPage, selector: string): Promise<string | null> =>
  page.evaluate((s) => document.querySelector(s)?.textContent ?? null, selector);

export const countOf = (page: BrowserPage, selector: string): Promise<number> => page.evaluate((s) => document.querySelectorAll(s).length, selector);

/** page.waitUntil, failing with what it waited for. */
async function until<A>(page: BrowserPage, fn: (arg: A) => unknown, arg: A, timeoutMs: number, what: string): Promise<void> {
  try {
    await page.waitUntil(fn, arg, timeoutMs);
  } catch (err) {
    throw new Error(`${page.name}: timed out after ${timeoutMs} ms waiting for ${what}`, { cause: err });
  }
}

/** Until an element matching selector is shown (in the page and not hidden). */
export const shown = (page: BrowserPage, selector: string, timeoutMs: number): Promise<void> =>
  until(page, (s) => document.querySelector(s)?.checkVisibility() === true, selector, timeoutMs, `${selector} to be shown`);

/** Until some element matching selector is shown with text in its text. */
export const shownWithText = (page: BrowserPage, selector: string, text: string, timeoutMs: number): Promise<void> =>
  until(
    page,
    ([s, t]) => [...document.querySelectorAll(s)].some((e) => e.checkVisibility() && (e.textContent ?? '').includes(t)),
    [selector, text] as const,
    timeoutMs,
    `${selector} with "${text}" to be shown`,
  );
