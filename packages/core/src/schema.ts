import { APPEND_FLAG, lockFunctions } from './lock-functions.js';
import type { TableNames } from './table-name.js';

/**
 * The schema as versioned, idempotent migrations. Each step is a list of statements run in one
 * transaction; `es_migrations` (beside the events table) records the steps applied per table.
 * Every name comes from a validated `TableNames`, never from a caller's value.
 */
export interface Migration {
  readonly version: number;
  readonly description: string;
  statements(names: TableNames): string[];
}

/** The migrations, in order. Append new steps; never edit an applied one. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'events table, indexes, lock protocol, query and append functions',
    statements: (names) => [
      ...tableStatements(names),
      ...lockFunctions(names),
      ...filterSqlFunctions(names),
      queryFunction(names),
      appendFunction(names),
    ],
  },
];

/** The bookkeeping table, in the events table's schema. */
export function migrationsTable(names: TableNames): string {
  return names.schema ? `${names.schema}."es_migrations"` : '"es_migrations"';
}

/** The table and its indexes; the schema itself is created with the bookkeeping table, before any step. */
function tableStatements({ table, bare }: TableNames): string[] {
  const index = (suffix: string) => `"${bare}${suffix}"`;
  return [
    `CREATE TABLE IF NOT EXISTS ${table} (
      sequence_number bigserial PRIMARY KEY,
      event_type text NOT NULL,
      occurred_at timestamptz NOT NULL,
      payload jsonb NOT NULL,
      metadata jsonb NOT NULL DEFAULT '{}'
    )`,
    // (event_type, sequence_number): a guard over types only reads its max from the index end.
    `CREATE INDEX IF NOT EXISTS ${index('_event_type_idx')} ON ${table} (event_type, sequence_number)`,
    `CREATE INDEX IF NOT EXISTS ${index('_occurred_at_idx')} ON ${table} (occurred_at)`,
    // fastupdate = off: with the pending list every guard query scans it, and appends slow down by 100x.
    `CREATE INDEX IF NOT EXISTS ${index('_payload_idx')} ON ${table} USING gin (payload jsonb_path_ops) WITH (fastupdate = off)`,
  ];
}

/**
 * The SQL text of an encoded filter (see `encodeFilter`). It holds no value: every value is read from the
 * filter parameter `$1` by a path, so the text is safe to EXECUTE, and a one-shot plan folds those paths
 * into constants (custom plans, indexes used).
 *
 * `<table>_branches(filter)` splits the filter's items into conditions: an item with predicates is one
 * condition (`by_payload`), an item with only types is one condition per type.
 * `<table>_where(filter)` ORs the branches and adds the bounds: the WHERE clause of a read.
 * `<table>_max(filter)` is the guard's `SELECT` of the filter's max position: the greatest of one max per
 * branch. A type branch reads its max from the end of the `(event_type, sequence_number)` index. A
 * payload branch is fenced (`OFFSET 0`) so the planner cannot turn its max into a backward walk of the
 * primary key that filters every row on the way: with a default row estimate it does (measured), and
 * the walk then reads the whole table when the boundary's events are old. The fenced branch reads only
 * its matching rows, through the payload index.
 */
function filterSqlFunctions({ table, derived }: TableNames): string[] {
  return [
    `CREATE OR REPLACE FUNCTION ${derived('_branches')}(filter jsonb)
RETURNS TABLE (condition text, by_payload boolean) LANGUAGE plpgsql IMMUTABLE AS $fn$
DECLARE
  item_index int;
  value_index int;
  item jsonb;
  types text[];
  predicates text[];
BEGIN
  FOR item_index IN 0 .. coalesce(jsonb_array_length(filter->'items'), 0) - 1 LOOP
    item := filter->'items'->item_index;
    types := '{}';
    predicates := '{}';
    FOR value_index IN 0 .. jsonb_array_length(item->'types') - 1 LOOP
      types := types || format('$1 #>> %L', format('{items,%s,types,%s}', item_index, value_index));
    END LOOP;
    FOR value_index IN 0 .. jsonb_array_length(item->'predicates') - 1 LOOP
      predicates := predicates || format('payload @> ($1 #> %L)', format('{items,%s,predicates,%s}', item_index, value_index));
    END LOOP;
    IF cardinality(predicates) = 0 THEN
      RETURN QUERY SELECT format('event_type = (%s)', type), false FROM unnest(types) AS type;
    ELSE
      condition := format('(%s)', array_to_string(predicates, CASE WHEN (item->>'all')::boolean THEN ' AND ' ELSE ' OR ' END));
      IF cardinality(types) > 0 THEN
        condition := format('event_type IN (%s) AND %s', array_to_string(types, ', '), condition);
      END IF;
      RETURN QUERY SELECT condition, true;
    END IF;
  END LOOP;
END
$fn$`,
    `CREATE OR REPLACE FUNCTION ${derived('_bounds')}(filter jsonb)
RETURNS text LANGUAGE sql IMMUTABLE AS $fn$
  SELECT coalesce(string_agg(bound, ' AND '), 'true') FROM (VALUES
    (CASE WHEN filter ? 'from' THEN 'occurred_at >= ($1->>''from'')::timestamptz' END),
    (CASE WHEN filter ? 'until' THEN 'occurred_at <= ($1->>''until'')::timestamptz' END),
    (CASE WHEN filter ? 'after' THEN 'sequence_number > ($1->>''after'')::bigint' END)
  ) AS bounds (bound)
$fn$`,
    `CREATE OR REPLACE FUNCTION ${derived('_where')}(filter jsonb)
RETURNS text LANGUAGE sql IMMUTABLE AS $fn$
  SELECT coalesce('(' || string_agg('(' || condition || ')', ' OR ') || ') AND ', '') || ${derived('_bounds')}(filter)
  FROM ${derived('_branches')}(filter)
$fn$`,
    `CREATE OR REPLACE FUNCTION ${derived('_max')}(filter jsonb)
RETURNS text LANGUAGE sql IMMUTABLE AS $fn$
  WITH fixed AS (SELECT ${derived('_bounds')}(filter) AS bounds)
  SELECT 'SELECT coalesce(' || coalesce(
    'greatest(' || string_agg(format(
      CASE WHEN by_payload
        THEN '(SELECT max(sequence_number) FROM (SELECT sequence_number FROM ${table} WHERE %s AND %s OFFSET 0) AS matching)'
        ELSE '(SELECT max(sequence_number) FROM ${table} WHERE %s AND %s)'
      END, condition, bounds), ', ') || ')',
    format('(SELECT max(sequence_number) FROM ${table} WHERE %s)', (SELECT bounds FROM fixed))) || ', 0)'
  FROM ${derived('_branches')}(filter), fixed
$fn$`,
  ];
}

// The functions below run with `jit = off`: their statements are small, and the planner's default row
// estimates for jsonb set-returning functions can pass jit_above_cost, which costs 10-30 ms of compilation
// per call (measured here) for work of a few microseconds.

/**
 * `<table>_query(filter, barrier)`: the matching events in position order. With `barrier` (strong reads on
 * the primary) it first locks the filter's keys exclusively (see lock-functions.ts), which waits for
 * in-flight appends whose events could match: the read then cannot see a later event without an earlier
 * one that was still uncommitted. VOLATILE, so the read takes its snapshot after the locks.
 */
function queryFunction({ table, derived }: TableNames): string {
  return `CREATE OR REPLACE FUNCTION ${derived('_query')}(filter jsonb, barrier boolean)
RETURNS SETOF ${table} LANGUAGE plpgsql VOLATILE SET jit = off AS $fn$
BEGIN
  IF barrier THEN
    PERFORM ${derived('_lock_read')}(filter);
  END IF;
  RETURN QUERY EXECUTE
    'SELECT * FROM ${table} WHERE ' || ${derived('_where')}(filter) || ' ORDER BY sequence_number'
    USING filter;
END
$fn$`;
}

/**
 * `<table>_append(filter, expected, events)`: the whole append in one call. Takes its locks (see
 * lock-functions.ts), then reads the filter's max with a fresh snapshot, then
 * inserts the events in argument order if, and only if, that max equals `expected`. Returns the max it
 * found and the new positions (NULL on a conflict; nothing is inserted then).
 */
function appendFunction({ table, derived, configured }: TableNames): string {
  return `CREATE OR REPLACE FUNCTION ${derived('_append')}(filter jsonb, expected bigint, events jsonb)
RETURNS TABLE (max_sequence_number bigint, sequence_numbers bigint[]) LANGUAGE plpgsql VOLATILE SET jit = off AS $fn$
DECLARE
  current_max bigint;
  positions bigint[];
BEGIN
  PERFORM ${derived('_lock_append')}(filter, events);
  EXECUTE ${derived('_max')}(filter) INTO current_max USING filter;
  IF current_max <> expected THEN
    RETURN QUERY SELECT current_max, NULL::bigint[];
    RETURN;
  END IF;
  PERFORM set_config('${APPEND_FLAG}', '${configured}', true);
  WITH inserted AS (
    INSERT INTO ${table} (event_type, occurred_at, payload, metadata)
    SELECT event->>'type', (event->>'occurredAt')::timestamptz, event->'payload', event->'metadata'
    FROM jsonb_array_elements(events) WITH ORDINALITY AS input (event, position)
    ORDER BY position
    RETURNING sequence_number
  )
  SELECT array_agg(sequence_number ORDER BY sequence_number) INTO positions FROM inserted;
  PERFORM set_config('${APPEND_FLAG}', '', true);
  RETURN QUERY SELECT current_max, positions;
END
$fn$`;
}
