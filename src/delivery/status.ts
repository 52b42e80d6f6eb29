/** What a console shows of one sink; read-only, taken at the moment it is asked for. */
export type SinkState = 'delivering' | 'retrying' | 'down' | 'standby';

export interface SinkStatus {
  readonly name: string;
  readonly type: string;
  /** standby: another instance delivers; down: the sink cannot be reached; retrying: a batch waits to be sent again. */
  readonly state: SinkState;
  /** Events this process holds for the sink (queued + in flight); the rest of an outbox backlog waits in Postgres. */
  readonly backlog: number;
  /** `ts` of the oldest event held for the sink, null when none. */
  readonly oldestPending: string | null;
  /** Events sent again after a failed attempt, since this instance began delivering. */
  readonly retries: number;
  readonly lastError: string | null;
}

export interface BridgeStatus {
  readonly role: 'delivering' | 'standby';
  readonly delivery: string;
  /** Rows in the outbox table at the last sample (every 5 s), null before the first. */
  readonly outboxBacklog: number | null;
  readonly sinks: readonly SinkStatus[];
}
