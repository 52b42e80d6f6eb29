import { createWriteStream, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { StdoutSink } from '../../src/sinks/stdout/sink.js';
import { configuredSink, loadSinkConfig, silentContext } from '../support/sink-config.js';
import { BODY_FORMATS, DATABASE, runSinkContract, structuredCloudEvent, type FarEnd } from './sink-contract.js';

/**
 * The registry's stdout sink writes to process.stdout, which the test runner
 * owns; the same class is given a file instead, a far end that can be read
 * back the moment send resolves. (test/integration/core-stdout.test.ts covers
 * the real standard output through the CLI.)
 */
async function open(t: TestContext, _scope: unknown, options: Readonly<Record<string, unknown>> = {}): Promise<FarEnd> {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'pgbridge-stdout-')), 'out.ndjson');
  const out = createWriteStream(file);
  const config = loadSinkConfig({ name: 'contract', type: 'stdout', ...options });
  const sink = configuredSink(config, new StdoutSink(config, silentContext(DATABASE), out));
  t.after(async () => {
    await sink.close();
    await new Promise((resolve) => out.end(resolve));
  });
  await sink.connect(new AbortController().signal);
  const arrived = async () =>
    readFileSync(file, 'utf8')
      .split('\n')
      .filter((line) => line !== '')
      .map((body) => ({ body, headers: {} }));
  return { sink, arrived };
}

runSinkContract({
  type: 'stdout',
  formats: [
    ...BODY_FORMATS,
    {
      label: 'cloudevents (structured, one JSON object per line)',
      format: 'cloudevents',
      cloudEvent: ({ body }) => structuredCloudEvent(body),
    },
  ],
  open,
  permanent: { notApplicable: 'standard output takes any line; there is no far end that refuses an event' },
  retriable: { notApplicable: 'a broken standard output never heals, so there is nothing to send again to' },
  eventHeaders: { notApplicable: 'a line has no headers; the event id is in the body' },
});
