import type { TableNames } from './table-name.js';

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
export function lockFunctions(names: TableNames): string[] {
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
export const APPEND_FLAG = 'es.locked_append';

/** Distinct event keys a write may lock one by one before it locks `*` exclusively instead. */
export const ESCALATE_AFTER = 64;

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
