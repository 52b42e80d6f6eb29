import type { ConfirmChannel } from 'amqplib';

/**
 * The AMQP ceiling's publishes, as the sink makes them: persistent, mandatory,
 * the sink's headers and routing key, at most `window` unconfirmed. `content(i)`
 * is the body of the i-th event (id firstId + i). Resolves once every publish
 * was answered, with the number of nacks.
 */
export async function publishConfirmed(
  channel: ConfirmChannel,
  exchange: string,
  table: string,
  firstId: number,
  count: number,
  window: number,
  content: (i: number) => Buffer,
): Promise<number> {
  let unconfirmed = 0;
  let failed = 0;
  let room: (() => void) | undefined;
  for (let i = 0; i < count; i++) {
    while (unconfirmed >= window) await new Promise<void>((r) => (room = r));
    unconfirmed++;
    const id = String(firstId + i);
    const flushed = channel.publish(
      exchange,
      `public.${table}.insert`,
      content(i),
      {
        persistent: true,
        mandatory: true,
        contentType: 'application/json',
        messageId: id,
        appId: 'pgbridge',
        headers: { 'pgbridge-id': id, 'pgbridge-op': 'INSERT', 'pgbridge-table': `public.${table}` },
      },
      (err: unknown) => {
        if (err) failed++;
        unconfirmed--;
        room?.();
        room = undefined;
      },
    );
    if (!flushed) await new Promise((r) => channel.once('drain', r));
  }
  await channel.waitForConfirms();
  return failed;
}
