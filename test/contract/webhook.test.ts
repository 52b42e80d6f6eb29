import assert from 'node:assert/strict';
import { after, before, type TestContext } from 'node:test';
import { HTTP, type CloudEvent } from 'cloudevents';
import { parse, stringify } from 'lossless-json';
import type { IncomingHttpHeaders } from 'node:http';
import { binaryCloudEventOf } from '../support/binary-cloud-event.js';
import { rowEvent } from '../support/events.js';
import { silentContext, sinkFromConfig } from '../support/sink-config.js';
import { WebhookServer, type ReceivedRequest } from '../support/webhook-server.js';
import {
  BODY_FORMATS,
  binaryCloudEvent,
  DATABASE,
  runSinkContract,
  structuredCloudEvent,
  type Arrival,
  type FarEnd,
  type Scope,
} from './sink-contract.js';

const server = new WebhookServer();
let base = '';
/** Paths answered 503 until healed. */
const failing = new Set<string>();

before(async () => {
  base = (await server.start()).replace(/\/hook$/, '');
  server.reply = (req) => {
    if (failing.has(req.url)) return { status: 503, body: 'busy' };
    if (req.body.includes('"refused":true')) return { status: 400, body: 'refused' };
    return { status: 204 };
  };
});

after(() => server.stop());

function headerMap(headers: IncomingHttpHeaders): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, Array.isArray(value) ? value.join(',') : String(value)]));
}

/** One arrival per event: a batched request's JSON array is split, each element re-serialised with every digit kept. */
function arrivals(request: ReceivedRequest): Arrival[] {
  const headers = headerMap(request.headers);
  if (!request.body.startsWith('[')) return [{ body: request.body, headers }];
  return (parse(request.body) as unknown[]).map((element) => ({ body: stringify(element) ?? '', headers }));
}

async function open(t: TestContext, scope: Scope, options: Readonly<Record<string, unknown>> = {}): Promise<FarEnd> {
  const path = `/${scope.table}`;
  const sink = sinkFromConfig({ name: 'contract', type: 'webhook', url: `${base}${path}`, ...options }, silentContext(DATABASE));
  t.after(() => sink.close());
  await sink.connect(new AbortController().signal);
  return {
    sink,
    arrived: async () =>
      server
        .accepted()
        .filter((r) => r.url === path)
        .flatMap(arrivals),
  };
}

runSinkContract({
  type: 'webhook',
  batchOptions: { batch: { max_events: 10, max_wait_ms: 5 } },
  formats: [
    ...BODY_FORMATS,
    {
      label: 'cloudevents (structured)',
      format: 'cloudevents',
      cloudEvent: ({ body, headers }) => {
        assert.equal(headers['content-type'], 'application/cloudevents+json');
        assert.equal((HTTP.toEvent({ headers, body }) as CloudEvent<unknown>).validate(), true, 'the CloudEvents SDK reads and validates it');
        return structuredCloudEvent(body);
      },
    },
    {
      label: 'cloudevents (binary)',
      format: 'cloudevents',
      options: { cloudevents_mode: 'binary' },
      cloudEvent: (arrival) => {
        binaryCloudEventOf(arrival.headers, arrival.body);
        return binaryCloudEvent('ce-')(arrival);
      },
    },
  ],
  open,
  permanent: {
    // Answered 400: a status other than 408, 429 and 5xx fails for good.
    doomed: (scope) => rowEvent({ table: scope.table, data: '{"id":99,"refused":true}', key: '{"id":99}' }),
  },
  retriable: {
    async openFailing(t, scope) {
      failing.add(`/${scope.table}`);
      const far = await open(t, scope, { format: 'pgbridge' });
      return { ...far, heal: async () => void failing.delete(`/${scope.table}`) };
    },
  },
  eventHeaders: { notApplicable: 'HTTP carries the event id in the body (and webhook-id when signed), not broker headers' },
});
