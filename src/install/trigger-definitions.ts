import type pg from 'pg';

/** A trigger as Postgres has it, and the function it calls. */
export interface TriggerDefinition {
  readonly schema: string;
  readonly table: string;
  readonly trigger: string;
  /**
   * pg_get_triggerdef without the trigger's and the table's names: the events,
   * level, transition table, WHEN (as Postgres prints it back) and function.
   * Equal for two triggers that fire alike, whatever tables they are on.
   */
  readonly shape: string;
  readonly functionSchema: string;
  readonly functionName: string;
  /** pg_proc.prosrc: the body exactly as CREATE FUNCTION was given it. */
  readonly functionBody: string;
}

/** The triggers `condition` (over pg_trigger t) selects, with $1… as `params`. */
export async function triggerDefinitions(db: pg.ClientBase, condition: string, params: unknown[]): Promise<TriggerDefinition[]> {
  const { rows } = await db.query<{
    schema: string;
    table: string;
    trigger: string;
    definition: string;
    named: string;
    on_table: string;
    function_schema: string;
    function_name: string;
    function_body: string;
  }>(
    `SELECT n.nspname AS schema, c.relname AS table, t.tgname AS trigger, pg_get_triggerdef(t.oid) AS definition,
            format('CREATE TRIGGER %I ', t.tgname) AS named, format(' ON %I.%I ', CASE WHEN n.oid = pg_my_temp_schema() THEN 'pg_temp' ELSE n.nspname END, c.relname) AS on_table,
            pn.nspname AS function_schema, p.proname AS function_name, p.prosrc AS function_body
       FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_proc p ON p.oid = t.tgfoid JOIN pg_namespace pn ON pn.oid = p.pronamespace
      WHERE ${condition}
      ORDER BY 1, 2, 3`,
    params,
  );
  return rows.map((r) => ({
    schema: r.schema,
    table: r.table,
    trigger: r.trigger,
    shape: withoutNames(r.definition, r.named, r.on_table),
    functionSchema: r.function_schema,
    functionName: r.function_name,
    functionBody: r.function_body,
  }));
}

/** Postgres prints `CREATE TRIGGER name … ON schema.table …`, both quoted as format's %I quotes them (the session's own temporary schema as pg_temp). */
function withoutNames(definition: string, named: string, onTable: string): string {
  const rest = definition.startsWith(named) ? definition.slice(named.length) : definition;
  const at = rest.indexOf(onTable);
  return at === -1 ? rest : `${rest.slice(0, at)} ON <table> ${rest.slice(at + onTable.length)}`;
}
