import type http from 'node:http';
import { HttpProblem } from './http-problem.js';

/**
 * Past the limit a body is still read (and dropped) up to this much more: a
 * client that is still sending when the 413 goes out would otherwise see its
 * connection reset instead of the answer.
 */
const DRAINED_AT_MOST = 16 * 1024 * 1024;

/** A request's body as text; over `limit` bytes a 413 HttpProblem, to be answered with `connection: close`. */
export function readBody(req: http.IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const tooLarge = () => reject(new HttpProblem(413, `body too large: at most ${limit} bytes`));
    if (Number(req.headers['content-length']) > limit + DRAINED_AT_MOST) return tooLarge();
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
      else if (size > limit + DRAINED_AT_MOST) tooLarge();
    });
    req.on('end', () => (size > limit ? tooLarge() : resolve(Buffer.concat(chunks).toString('utf8'))));
    req.on('error', reject);
  });
}
