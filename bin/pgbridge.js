#!/usr/bin/env node
// dist/bundle/ is dist/ with its libraries bundled (scripts/bundle.mjs); PGBRIDGE_UNBUNDLED=1 runs dist/ itself.
// A reader that closed standard output (`pgbridge check | head -1`) ends the command, as it
// ends any Unix tool, instead of a stack trace. What was not written is not confirmed.
process.stdout.on('error', (err) => {
  if (err.code !== 'EPIPE') throw err;
  process.exit(1);
});

const { main } = await import(process.env.PGBRIDGE_UNBUNDLED === '1' ? '../dist/cli.js' : '../dist/bundle/cli.js');

main(process.argv.slice(2)).then((code) => {
  if (code !== undefined) process.exitCode = code;
  // The command is over. A client library can still hold a socket or a timer (a connect to a
  // host that accepts and never answers, a reconnect timer): nothing is left for it to do.
  setTimeout(() => process.exit(), 200).unref();
});
