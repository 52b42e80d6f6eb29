-- Example schema for docker-compose.yml: run once by the postgres image on an
-- empty data directory (/docker-entrypoint-initdb.d). pgbridge's own objects
-- (schema pgbridge, outbox, triggers) are made by `pgbridge install`, not here.

CREATE TABLE IF NOT EXISTS public.orders (
  id         bigserial   PRIMARY KEY,
  customer   text,
  status     text,
  amount     numeric,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- A few rows so the table is not empty; they predate the capture trigger, so
-- they produce no events. Try, once the stack is up:
--   docker compose exec postgres psql -U postgres -d shop \
--     -c "INSERT INTO orders (customer, status, amount) VALUES ('ada', 'new', 42.50)"
--   docker compose exec postgres psql -U postgres -d shop \
--     -c "NOTIFY jobs, '{\"job\":\"reindex\"}'"
INSERT INTO public.orders (customer, status, amount) VALUES
  ('grace', 'paid', 19.99),
  ('linus', 'new', 5.00);
