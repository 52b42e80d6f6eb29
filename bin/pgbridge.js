#!/usr/bin/env node
// dist/bundle/ is dist/ with its libraries bundled (scripts/bundle.mjs); PGBRIDGE_UNBUNDLED=1 runs dist/ itself.
const { main } = await import(process.env.PGBRIDGE_UNBUNDLED === '1' ? '../dist/cli.js' : '../dist/bundle/cli.js');

main(process.argv.slice(2)).then((code) => {
  if (code !== undefined) process.exitCode = code;
  // The command is over. A client library can still hold a socket or a timer (a connect to a
  // host that accepts and never answers, a reconnect timer): nothing is left for it to do.
  setTimeout(() => process.exit(), 200).unref();
});
