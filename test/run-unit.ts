/**
 * `npm run test:unit`: every test/unit file in this one process, in seconds
 * (`node --test` would start a process, and compile TypeScript, per file).
 * They need neither dist/ nor any service.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'unit');
for (const file of readdirSync(dir)
  .filter((f) => f.endsWith('.test.ts'))
  .sort()) {
  await import(pathToFileURL(path.join(dir, file)).href);
}
