/** A request the console answers with `status` and `message` (JSON `{"error": …}`), not a 500. */
export class HttpProblem extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}
