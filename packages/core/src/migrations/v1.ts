import type { TableNames } from '../table-name.js';

/**
 * Migration step 1, FROZEN: the SQL exactly as databases were created with it (until version 0.1.x).
 * Never edit this file: a change to the schema goes into a new step. A unit test compares what it
 * produces with a fixture recorded from the release.
 *
 * It created the table and its indexes, a lock protocol computed in PL/pgSQL, and the query and append
 * functions; step 2 replaces every function and the trigger.
 */
export function step1Statements(names: TableNames): string[] {
  return [
    ...tableStatements(names),
    ...lockFunctions(names),
    ...filterSqlFunctions(names),
    queryFunction(names),
    appendFunction(names),
  ];
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

/**
 * The lock protocol behind the append guard, as SQL functions. Correctness under concurrency rests here.
 *
 * Keys. Soundness rule: every event that matches a filter shares at least one key with that filter.
 * - An event yields `*`, `t:<type>`, and one key per top-level payload entry: the entry's key with its
 *   value for scalars (numbers normalised as jsonb compares them: 1 and 1.0 are one key), or with the
 *   value's kind for objects and arrays (`payload @> {k: v}` with a scalar `v` never matches an array or
 *   object at `k`, and an object or array `v` only matches the same kind).
 * - A filter item with predicates yields one predicate's key (all-of: each predicate is necessary) or
 *   every predicate's key (any-of); an item with only types yields its type keys; no items yields `*`.
 * Both sides are computed by the same SQL function (`<table>_entry_key`), so they cannot disagree.
 *
 * Modes. Writers take their events' keys SHARED: writers never wait for each other. Readers that decide
 * (strong reads and an append's guard) take their filter's keys EXCLUSIVE: they wait for every in-flight
 * writer whose events could match, and a writer that comes later waits for them. So a decision can
 * never see a later matching event without an earlier one that was still uncommitted (the late-commit
 * case), and two guards of one boundary run one after the other. Locks are transaction-scoped, taken in
 * one pass in ascending hash order (no deadlocks), and the new events get their positions only after.
 *
 * Large writes. A write with more than ESCALATE_AFTER distinct keys (a bulk import) would fill
 * PostgreSQL's lock table; it takes `*` EXCLUSIVE instead, which conflicts with every reader (readers
 * also take `*` shared) and every writer, and holds no per-event locks.
 *
 * Writers that bypass the store. A plain INSERT into the table takes the same locks through a trigger
 * and is positioned after them, so the guarantee holds for them too. Keys are hashed to 64 bits; a
 * collision only adds waiting, never a missed conflict.
 */
function lockFunctions(names: TableNames): string[] {
  return [
    entryKeyFunction(names),
    eventKeysFunction(names),
    filterKeysFunction(names),
    lockFunction(names),
    readLockFunction(names),
    writeLockFunction(names),
    ...insertTrigger(names),
  ];
}

/** The transaction-local setting that tells the trigger an insert comes from `<table>_append`, locks taken. */
const APPEND_FLAG = 'es.locked_append';

/** Distinct event keys a write may lock one by one before it locks `*` exclusively instead. */
const ESCALATE_AFTER = 64;

function entryKeyFunction({ derived }: TableNames): string {
  return `CREATE OR REPLACE FUNCTION ${derived('_entry_key')}(key text, value jsonb)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
  SELECT 'p:' || to_jsonb(key)::text || ':' || CASE jsonb_typeof(value)
    WHEN 'object' THEN 'object'
    WHEN 'array' THEN 'array'
    WHEN 'number' THEN 'n' || trim_scale((value #>> '{}')::numeric)::text
    ELSE value::text
  END
$fn$`;
}

/** `<table>_event_keys(events)`: the keys of `[{type, payload}, ...]`, distinct. */
function eventKeysFunction({ derived }: TableNames): string {
  return `CREATE OR REPLACE FUNCTION ${derived('_event_keys')}(events jsonb)
RETURNS text[] LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $fn$
BEGIN
  RETURN ARRAY(
    SELECT DISTINCT key
    FROM jsonb_array_elements(events) AS event,
      LATERAL (
        SELECT '*'
        UNION ALL SELECT 't:' || (event->>'type')
        UNION ALL SELECT ${derived('_entry_key')}(entry.key, entry.value)
          FROM jsonb_each(CASE WHEN jsonb_typeof(event->'payload') = 'object' THEN event->'payload' ELSE '{}' END) AS entry
      ) AS keys (key));
END
$fn$`;
}

/** `<table>_filter_keys(filter)`: the keys of an encoded filter (see `encodeFilter`). */
function filterKeysFunction({ derived }: TableNames): string {
  return `CREATE OR REPLACE FUNCTION ${derived('_filter_keys')}(filter jsonb)
RETURNS text[] LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $fn$
BEGIN
  IF jsonb_array_length(filter->'items') = 0 THEN
    RETURN ARRAY['*'];
  END IF;
  RETURN ARRAY(
    SELECT ${derived('_entry_key')}(predicate.key, predicate.value)
    FROM jsonb_array_elements(filter->'items') AS item,
      jsonb_array_elements(item->'predicates') WITH ORDINALITY AS listed (object, position),
      jsonb_each(listed.object) AS predicate
    WHERE NOT (item->>'all')::boolean OR listed.position = 1
    UNION
    SELECT 't:' || type
    FROM jsonb_array_elements(filter->'items') AS item, jsonb_array_elements_text(item->'types') AS type
    WHERE jsonb_array_length(item->'predicates') = 0);
END
$fn$`;
}

/**
 * `<table>_lock(exclusive, shared)`: transaction-scoped advisory locks for the given keys, in ascending
 * hash order so that two callers can never deadlock; a key in both lists is taken exclusively.
 */
function lockFunction({ derived, configured }: TableNames): string {
  return `CREATE OR REPLACE FUNCTION ${derived('_lock')}(exclusive_keys text[], shared_keys text[])
RETURNS void LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
  lock record;
BEGIN
  FOR lock IN
    SELECT hashtextextended('${configured}|' || key, 0) AS id, bool_or(exclusive) AS exclusive
    FROM (
      SELECT unnest(exclusive_keys) AS key, true AS exclusive
      UNION ALL
      SELECT unnest(shared_keys), false
    ) AS keys
    GROUP BY 1
    ORDER BY 1
  LOOP
    IF lock.exclusive THEN
      PERFORM pg_advisory_xact_lock(lock.id);
    ELSE
      PERFORM pg_advisory_xact_lock_shared(lock.id);
    END IF;
  END LOOP;
END
$fn$`;
}

/** `<table>_lock_read(filter)`: a decision's locks, its filter's keys exclusive and `*` shared. */
function readLockFunction({ derived }: TableNames): string {
  return `CREATE OR REPLACE FUNCTION ${derived('_lock_read')}(filter jsonb)
RETURNS void LANGUAGE plpgsql VOLATILE AS $fn$
BEGIN
  PERFORM ${derived('_lock')}(${derived('_filter_keys')}(filter), ARRAY['*']);
END
$fn$`;
}

/**
 * `<table>_lock_append(filter, events)`: an append's locks: its guard's (as a read) and its events' keys
 * shared, or `*` exclusive for a write with more than ESCALATE_AFTER distinct keys.
 */
function writeLockFunction({ derived }: TableNames): string {
  return `CREATE OR REPLACE FUNCTION ${derived('_lock_append')}(filter jsonb, events jsonb)
RETURNS void LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
  event_keys text[] := ${derived('_event_keys')}(events);
BEGIN
  IF cardinality(event_keys) > ${ESCALATE_AFTER} THEN
    PERFORM ${derived('_lock')}(${derived('_filter_keys')}(filter) || '*'::text, '{}');
  ELSE
    PERFORM ${derived('_lock')}(${derived('_filter_keys')}(filter), event_keys);
  END IF;
END
$fn$`;
}

/**
 * A plain INSERT (not through `<table>_append`) takes its row's shared locks, then gets a fresh position:
 * the column default was drawn before the locks, and a position drawn before the locks could become
 * visible after a later one. A transaction that inserts many rows escalates to `*` exclusive once it has
 * locked ESCALATE_AFTER keys (counted per transaction in `es.raw_lock_count`).
 */
function insertTrigger({ table, derived, bare, configured }: TableNames): string[] {
  return [
    `CREATE OR REPLACE FUNCTION ${derived('_lock_inserted')}()
RETURNS trigger LANGUAGE plpgsql SET jit = off AS $fn$
DECLARE
  keys text[];
  locked int;
BEGIN
  IF current_setting('${APPEND_FLAG}', true) IS NOT DISTINCT FROM '${configured}' THEN
    RETURN NEW;
  END IF;
  locked := coalesce(nullif(current_setting('es.raw_lock_count', true), ''), '0')::int;
  IF locked <= ${ESCALATE_AFTER} THEN
    keys := ${derived('_event_keys')}(jsonb_build_array(jsonb_build_object('type', NEW.event_type, 'payload', NEW.payload)));
    locked := locked + cardinality(keys);
    IF locked > ${ESCALATE_AFTER} THEN
      PERFORM ${derived('_lock')}(ARRAY['*'], '{}');
    ELSE
      PERFORM ${derived('_lock')}('{}', keys);
    END IF;
    PERFORM set_config('es.raw_lock_count', locked::text, true);
  END IF;
  NEW.sequence_number := nextval(pg_get_serial_sequence('${table}', 'sequence_number'));
  RETURN NEW;
END
$fn$`,
    `DROP TRIGGER IF EXISTS "${bare}_lock_inserted" ON ${table}`,
    `CREATE TRIGGER "${bare}_lock_inserted" BEFORE INSERT ON ${table}
  FOR EACH ROW EXECUTE FUNCTION ${derived('_lock_inserted')}()`,
  ];
}
