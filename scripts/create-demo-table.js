// Creates the quick start's example table (idempotent). Uses DATABASE_URL or the local default.
import pg from 'pg';

const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const client = new pg.Client(url);
await client.connect();
await client.query(`CREATE TABLE IF NOT EXISTS public.pgbridge_demo (
  id bigserial PRIMARY KEY,
  name text,
  amount numeric,
  created_at timestamptz NOT NULL DEFAULT now()
)`);
await client.end();
process.stderr.write('demo table public.pgbridge_demo is ready\n');
