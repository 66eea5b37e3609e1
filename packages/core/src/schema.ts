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
      whereFunction(names),
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
 * `<table>_where(filter)`: the WHERE clause for an encoded filter (see `encodeFilter`). It holds no
 * value: every value is read from the filter parameter `$1` by a path, so the clause is safe to
 * EXECUTE, and a one-shot plan folds those paths into constants (custom plans, indexes used).
 */
function whereFunction({ derived }: TableNames): string {
  return `CREATE OR REPLACE FUNCTION ${derived('_where')}(filter jsonb)
RETURNS text LANGUAGE plpgsql IMMUTABLE AS $fn$
DECLARE
  items text[] := '{}';
  conditions text[];
  alternatives text[];
  item_index int;
  value_index int;
  item jsonb;
  bounds text[] := '{}';
BEGIN
  FOR item_index IN 0 .. coalesce(jsonb_array_length(filter->'items'), 0) - 1 LOOP
    item := filter->'items'->item_index;
    conditions := '{}';
    IF jsonb_array_length(item->'types') > 0 THEN
      alternatives := '{}';
      FOR value_index IN 0 .. jsonb_array_length(item->'types') - 1 LOOP
        alternatives := alternatives || format('$1 #>> %L', format('{items,%s,types,%s}', item_index, value_index));
      END LOOP;
      conditions := conditions || format('event_type IN (%s)', array_to_string(alternatives, ', '));
    END IF;
    IF jsonb_array_length(item->'predicates') > 0 THEN
      alternatives := '{}';
      FOR value_index IN 0 .. jsonb_array_length(item->'predicates') - 1 LOOP
        alternatives := alternatives || format('payload @> ($1 #> %L)', format('{items,%s,predicates,%s}', item_index, value_index));
      END LOOP;
      conditions := conditions || format('(%s)', array_to_string(alternatives, CASE WHEN (item->>'all')::boolean THEN ' AND ' ELSE ' OR ' END));
    END IF;
    items := items || format('(%s)', array_to_string(conditions, ' AND '));
  END LOOP;
  IF filter ? 'from' THEN bounds := bounds || 'occurred_at >= ($1->>''from'')::timestamptz'::text; END IF;
  IF filter ? 'until' THEN bounds := bounds || 'occurred_at <= ($1->>''until'')::timestamptz'::text; END IF;
  IF filter ? 'after' THEN bounds := bounds || 'sequence_number > ($1->>''after'')::bigint'::text; END IF;
  IF cardinality(items) > 0 THEN
    bounds := format('(%s)', array_to_string(items, ' OR ')) || bounds;
  END IF;
  IF cardinality(bounds) = 0 THEN
    RETURN 'true';
  END IF;
  RETURN array_to_string(bounds, ' AND ');
END
$fn$`;
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
  EXECUTE 'SELECT coalesce(max(sequence_number), 0) FROM ${table} WHERE ' || ${derived('_where')}(filter)
    INTO current_max USING filter;
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
