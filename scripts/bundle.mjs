// Bundles the compiled CLI (dist/cli.js) and the libraries it loads into
// dist/bundle/: Node then reads a few large files instead of hundreds of
// small ones, and a bridge reaches its first delivery about 0.1 s sooner
// (bench/RESULTS.md, "Bundled build" at the top). Each command and each sink type stays a
// chunk of its own, loaded only when used, as in dist/.
// `PGBRIDGE_UNBUNDLED=1 node bin/pgbridge.js …` runs dist/ instead.
import { rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const outdir = path.join(root, 'dist', 'bundle');

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
  sourcemap: 'linked',
  logLevel: 'warning',
});
