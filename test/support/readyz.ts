import { waitFor } from './bridge.js';

export interface ReadyzAnswer {
  readonly status: number;
  readonly components: Record<string, string>;
}

/** GET /readyz on `base` (http://host:port): its status code and components. */
export async function readyz(base: string): Promise<ReadyzAnswer> {
  const res = await fetch(`${base}/readyz`);
  const body = (await res.json()) as { components: Record<string, string> };
  return { status: res.status, components: body.components };
}

/** Waits until /readyz answers `status` with `components` among its components; the last answer. */
export async function untilReadyz(base: string, status: number, components: Record<string, string>, timeoutMs = 15_000): Promise<ReadyzAnswer> {
  let last: ReadyzAnswer | undefined;
  const matches = (answer: ReadyzAnswer): boolean =>
    answer.status === status && Object.entries(components).every(([name, value]) => answer.components[name] === value);
  await waitFor(async () => matches((last = await readyz(base))), timeoutMs, `/readyz ${status} with ${JSON.stringify(components)}`).catch(
    (err: unknown) => {
      throw new Error(`${(err as Error).message}; last answer ${JSON.stringify(last)}`);
    },
  );
  return last!;
}
