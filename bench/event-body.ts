/**
 * The pgbridge-format event of row `id` of `table`, as the bare clients send
 * it: same shape and size as what pgbridge renders for the bench's rows.
 */
export function eventBody(table: string, id: number): string {
  const data = `{"id":${id},"account":${id % 1000},"status":"new","amount":${((id % 100000) / 100).toFixed(2)},"note":"bench row ${id} ${'x'.repeat(40)}","created_at":"2026-11-21T10:00:00.123456+00:00"}`;
  return `{"id":"${id}","schema":"public","table":"${table}","op":"INSERT","data":${data},"old":null,"txid":"123456","ts":"2026-11-21T10:00:00.123456+00:00"}`;
}
