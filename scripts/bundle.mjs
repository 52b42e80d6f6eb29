// Bundles the compiled CLI (dist/cli.js) and the libraries it loads into
// dist/bundle/: Node then reads a few large files instead of hundreds of
// small ones, and a bridge reaches its first delivery about 0.1 s sooner
// (bench/RESULTS.md, "Bundled build" under runs G–J). Each command and each sink type stays a
// chunk of its own, loaded only when used, as in dist/.
// `PGBRIDGE_UNBUNDLED=1 node bin/pgbridge.js …` runs dist/ instead.
import { readFile } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const outdir = path.join(root, 'dist', 'bundle');

/**
 * pg chooses its socket functions as it loads. On Node 20, which has no `navigator`, it tells
 * Node from a Cloudflare Worker by making a `Response`, and that first touch of the global
 * loads Node's own fetch implementation. On the AMD machine, importing the bundle's chunk
 * that holds pg took 58–81 ms with that check and 27–38 ms without, in every command that
 * talks to Postgres. This bundle runs on Node only.
 */
const pgOnNode = {
  name: 'pg-on-node',
  setup(build) {
    build.onLoad({ filter: /[\\/]node_modules[\\/]pg[\\/]lib[\\/]stream\.js$/ }, async (args) => {
      const source = await readFile(args.path, 'utf8');
      const patched = source.replace('if (isCloudflareRuntime()) {', 'if (false) {');
      if (patched === source) throw new Error(`${args.path}: pg's runtime check changed; revisit the pg-on-node plugin in scripts/bundle.mjs`);
      return { contents: patched, loader: 'js' };
    });
  },
};

rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: [path.join(root, 'dist', 'cli.js')],
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // pino starts its transports' worker threads from files beside its own modules.
  external: ['pino', 'pino-pretty'],
  // The CommonJS libraries inside call require() for Node's own modules.
  banner: { js: "import { createRequire as pgbridgeCreateRequire } from 'node:module'; const require = pgbridgeCreateRequire(import.meta.url);" },
  plugins: [pgOnNode],
  sourcemap: 'linked',
  logLevel: 'warning',
});
