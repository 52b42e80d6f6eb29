-- pgbridge: objects shared by every bridge instance in this database.
-- Idempotent: `pgbridge install` runs it every time.

CREATE SCHEMA IF NOT EXISTS pgbridge;
COMMENT ON SCHEMA pgbridge IS 'pgbridge: change capture outbox, dead letters, trigger functions. Managed by pgbridge install/uninstall.';

-- One sequence for every event id: ids are unique across tables and instances,
-- and for one table row they grow in commit order (a later writer waits for the row lock).
-- CACHE 1 is required: with a per-session cache, ids would no longer follow the
-- order in which transactions take them, and the outbox readers' settled point
-- (src/source/settled-water.ts) could pass a row not yet committed.
-- It starts at the time it is created, in microseconds since 1970 (below 2^53 until
-- the year 2255), not at 1: after an uninstall, a new install's ids never repeat the
-- old ones, which consumers and brokers deduplicate by (JetStream's Nats-Msg-Id).
DO $$
BEGIN
  IF to_regclass('pgbridge.event_id_seq') IS NULL THEN
    EXECUTE format('CREATE SEQUENCE pgbridge.event_id_seq AS bigint START WITH %s',
                   (extract(epoch FROM clock_timestamp()) * 1000000)::bigint);
  END IF;
END $$;
ALTER SEQUENCE pgbridge.event_id_seq CACHE 1;

-- Events a sink refused for good, or whose retries ran out.
-- `pgbridge dead-letters list|retry` reads and replays them.
CREATE TABLE IF NOT EXISTS pgbridge.dead_letters (
  id         bigserial   PRIMARY KEY,
  instance   text        NOT NULL,
  sink       text        NOT NULL,
  event_id   text        NOT NULL,
  event      json        NOT NULL,   -- the event in pgbridge format
  key        json,                   -- primary key columns of the row, if any
  error      text        NOT NULL,
  attempts   integer     NOT NULL,
  failed_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS dead_letters_sink_idx ON pgbridge.dead_letters (instance, sink, id);
-- A sink's event is dead-lettered once, however often a replay fails it again.
CREATE INDEX IF NOT EXISTS dead_letters_event_idx ON pgbridge.dead_letters (instance, sink, event_id);

-- Outbox mode with several sinks: which sink already has which event. A row
-- leaves the outbox once every sink routed to it is here; with one sink, never written.
CREATE TABLE IF NOT EXISTS pgbridge.deliveries (
  event_id  bigint NOT NULL,
  sink      text   NOT NULL,
  PRIMARY KEY (event_id, sink)
);

-- `pgbridge backfill`: one row per instance and table, the position of the last
-- chunk committed with its events (same transaction), so an interrupted backfill
-- continues where it stopped. `pid` is the backend of the running backfill.
CREATE TABLE IF NOT EXISTS pgbridge.backfills (
  instance     text        NOT NULL,
  schema_name  text        NOT NULL,
  table_name   text        NOT NULL,
  filter       text,                   -- --where as given
  sink         text,                   -- --sink, or NULL for every routed sink
  last_key     text[],                 -- primary key of the last row read, as text; NULL before the first chunk
  rows_done    bigint      NOT NULL DEFAULT 0,
  rows_total   bigint,                 -- estimate when it started
  started_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  finished_at  timestamptz,
  pid          integer,
  PRIMARY KEY (instance, schema_name, table_name)
);
-- The primary key last_key is a position in ("name type", plus " COLLATE c" for a collation not the type's default, per column): a table given another key since cannot resume. NULL: recorded before the column.
ALTER TABLE pgbridge.backfills ADD COLUMN IF NOT EXISTS key_columns text[];
