import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { packageFile } from '../package-root.js';

export interface Asset {
  readonly type: string;
  readonly body: Buffer;
}

/** The console's folder in the package (beside dist/), and uPlot from node_modules: served as they are, no build step. */
const folder = packageFile('console/');
// Not named `require`: the bundle (scripts/bundle.mjs) defines that name at the top of every file.
const requireHere = createRequire(import.meta.url);

const TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  png: 'image/png',
};

function load(file: string): Asset {
  return { type: TYPES[file.slice(file.lastIndexOf('.') + 1)] ?? 'application/octet-stream', body: readFileSync(file) };
}

/** Read once, on first use. */
let cached: ReadonlyMap<string, Asset> | undefined;

export function consoleAssets(): ReadonlyMap<string, Asset> {
  cached ??= new Map([
    ['/', load(`${folder}index.html`)],
    ['/console/app.js', load(`${folder}app.js`)],
    ['/console/style.css', load(`${folder}style.css`)],
    ['/console/uPlot.iife.min.js', load(requireHere.resolve('uplot/dist/uPlot.iife.min.js'))],
    ['/console/uPlot.min.css', load(requireHere.resolve('uplot/dist/uPlot.min.css'))],
  ]);
  return cached;
}

/** The sign-in page, saying so when the token given last was wrong. */
export function loginPage(wrong: boolean): Asset {
  const page = load(`${folder}login.html`);
  if (!wrong) return page;
  return { ...page, body: Buffer.from(page.body.toString('utf8').replace('<!--message-->', '<p class="wrong">Wrong token.</p>')) };
}
