// A minimal pgbridge webhook consumer: verifies the Standard Webhooks
// signature, prints every event as one JSON line on stdout, answers 204.
//
//   WEBHOOK_SECRET=whsec_... PORT=8080 node examples/webhook-consumer/server.js
//
// 401: bad or missing signature, or a timestamp more than 5 minutes off.
// 400: signed, but not JSON. pgbridge treats any non-retriable 4xx as a
// permanent failure and dead-letters the event, so answer 2xx only once the
// event is safely handled, and 5xx when it should be sent again.
// Events carry a stable `id`: deduplicate on it, delivery is at-least-once.
import { createServer } from 'node:http';
import { verifyWebhook } from './verify.js';

const secret = process.env.WEBHOOK_SECRET;
if (!secret) {
  console.error('WEBHOOK_SECRET is not set (whsec_<base64>, the same as the sink\'s `secret`)');
  process.exit(2);
}
const port = Number(process.env.PORT ?? 8080);
const MAX_BODY_BYTES = 16 * 1024 * 1024;

const server = createServer(async (req, res) => {
  if (req.method === 'GET' && req.url === '/healthz') return reply(res, 200, 'ok\n');
  if (req.method !== 'POST') return reply(res, 405);

  const chunks = [];
  let size = 0;
  try {
    for await (const chunk of req) {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) return reply(res, 413);
      chunks.push(chunk);
    }
  } catch {
    return; // the client went away mid-body
  }
  const body = Buffer.concat(chunks);

  if (!verifyWebhook(secret, req.headers, body)) {
    console.error(`rejected ${req.headers['webhook-id'] ?? '(no webhook-id)'}: bad signature or timestamp`);
    return reply(res, 401);
  }
  const text = body.toString('utf8').trim();
  let payload;
  try {
    payload = JSON.parse(text);
  } catch {
    return reply(res, 400);
  }
  // One event, or a JSON array of them when the sink batches. Printed as
  // received: re-serialising would round big integers (bigint, numeric).
  for (const event of Array.isArray(payload) ? arrayElements(text) : [text]) {
    process.stdout.write(`${event}\n`);
  }
  reply(res, 204);
});

/** The top-level elements of a valid JSON array, each as its original text. */
function arrayElements(json) {
  const elements = [];
  let depth = 0;
  let inString = false;
  let start = 0;
  const take = (end) => {
    const element = json.slice(start, end).trim();
    if (element !== '') elements.push(element);
  };
  for (let i = 0; i < json.length; i++) {
    const c = json[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '[' || c === '{') {
      if (++depth === 1) start = i + 1;
    } else if (c === ']' || c === '}') {
      if (depth-- === 1) take(i);
    } else if (c === ',' && depth === 1) {
      take(i);
      start = i + 1;
    }
  }
  return elements;
}

function reply(res, status, text) {
  res.writeHead(status, text ? { 'content-type': 'text/plain' } : {});
  res.end(text);
}

server.listen(port, () => console.error(`webhook consumer listening on port ${server.address().port}`));

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    server.close(() => process.exit(0));
    server.closeIdleConnections(); // keep-alive sockets would hold close() open
  });
}
