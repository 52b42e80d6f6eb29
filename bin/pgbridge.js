#!/usr/bin/env node
// dist/bundle/ is dist/ with its libraries bundled (scripts/bundle.mjs); PGBRIDGE_UNBUNDLED=1 runs dist/ itself.
const { main } = await import(process.env.PGBRIDGE_UNBUNDLED === '1' ? '../dist/cli.js' : '../dist/bundle/cli.js');

main(process.argv.slice(2)).then((code) => {
  if (code !== undefined) process.exitCode = code;
});
