import type { TableNames } from '../table-name.js';
import { createFunction, type SqlFunction } from './sql-function.js';

/**
 * Migration step 2: the lock protocol and the SQL of reads and appends move to core (TypeScript builds
 * the statements and the lock keys; see lock-keys.ts and filter-sql.ts), the server keeps four small
 * functions with static SQL, and the trigger for plain INSERTs gets a protocol that cannot deadlock.
 *
 * Locks (transaction-scoped advisory locks on `hashtextextended('<table>|' || key, 0)`):
 * - a writer takes its events' keys SHARED: writers never wait for each other;
 * - a decision (an append's guard, a strong read's barrier) takes its filter's keys EXCLUSIVE: it waits
 *   for every in-flight writer whose events could match, and a writer that comes later waits for it;
 * - the escalation key `!` is taken last, after every other key, SHARED by decisions and EXCLUSIVE by a
 *   write with more keys than the lock table should hold (a bulk import), which then locks nothing else.
 * Keys are taken in one pass, in ascending hash order, the escalation key after them; a lock taken later
 * in a transaction is either that last key or a try-lock that never waits. So no cycle of waits can form.
 *
 * A strong read takes its barrier inside a block whose rollback releases it, notes the last position
 * drawn, and reads the matching events up to it with a fresh snapshot: every matching event at or below
 * that position is committed (its writer held a key the barrier waited for), so the read is a consistent
 * prefix, and writers of the boundary wait only for the barrier, not for the read. Positions must be
 * drawn in order: the sequence keeps CACHE 1 (checked by `migrate()`).
 *
 * The session must run READ COMMITTED, where each statement of a function takes a fresh snapshot after
 * the locks. Under REPEATABLE READ or SERIALIZABLE the snapshot is taken before them, so the functions
 * refuse with SQLSTATE ES001 and the store runs the call again in an explicit READ COMMITTED transaction.
 */

/** SQLSTATE of a store function that refused to run outside READ COMMITTED. */
export const NEEDS_READ_COMMITTED = 'ES001';

/** The transaction-local setting that tells the trigger an insert comes from `<table>_append`. */
export const APPEND_FLAG = 'es.locked_append';

/** Distinct keys a transaction of plain INSERTs locks one by one before it escalates. */
const RAW_ESCALATE_AFTER = 128;

/** Functions that step 1 (in any of its editions) created and step 2 replaces or drops. */
const STEP1_FUNCTIONS = [
  '_query',
  '_append',
  '_branches',
  '_bounds',
  '_where',
  '_max',
  '_entry_key',
  '_event_keys',
  '_filter_keys',
  '_lock',
  '_lock_read',
  '_lock_append',
  '_lock_inserted',
];

export function step2Statements(names: TableNames): string[] {
  const { table, bare, derived, configured } = names;
  return [
    renameSequence(names),
    `DROP TRIGGER IF EXISTS "${bare}_lock_inserted" ON ${table}`,
    dropFunctions(names, STEP1_FUNCTIONS),
    ...step2Functions(names).map((fn) => createFunction(names, fn)),
    `CREATE TRIGGER "${bare}_lock_inserted" BEFORE INSERT ON ${table} FOR EACH ROW
  WHEN (current_setting('${APPEND_FLAG}', true) IS DISTINCT FROM '${configured}')
  EXECUTE FUNCTION ${derived('_lock_inserted')}()`,
  ];
}

/** The functions step 2 defines, as `migrate()` expects to find them. */
export function step2Functions(names: TableNames): SqlFunction[] {
  return [eventKeysFunction(), appendFunction(names), readFunction(names), insertTriggerFunction(names)];
}

/**
 * The positions' sequence gets a name the functions can use (`<table>_position_seq`; the one PostgreSQL
 * chose for the bigserial is cut short for long table names).
 */
function renameSequence({ table, bare }: TableNames): string {
  return `DO $do$
DECLARE
  sequence regclass := pg_get_serial_sequence('${table}', 'sequence_number')::regclass;
BEGIN
  IF (SELECT relname FROM pg_class WHERE oid = sequence) <> '${bare}_position_seq' THEN
    EXECUTE format('ALTER SEQUENCE %s RENAME TO %I', sequence, '${bare}_position_seq');
  END IF;
END
$do$`;
}

/** Drops every overload of the named functions in the table's schema. */
export function dropFunctions({ table, bare }: TableNames, suffixes: readonly string[]): string {
  const list = suffixes.map((suffix) => `'${bare}${suffix}'`).join(', ');
  return `DO $do$
DECLARE
  old regprocedure;
BEGIN
  FOR old IN
    SELECT p.oid::regprocedure FROM pg_proc AS p
    WHERE p.pronamespace = (SELECT relnamespace FROM pg_class WHERE oid = '${table}'::regclass)
      AND p.proname = ANY (ARRAY[${list}])
  LOOP
    EXECUTE 'DROP FUNCTION ' || old;
  END LOOP;
END
$do$`;
}

/**
 * The statement that takes a set of locks in one pass: `exclusive` and `shared` are text[] expressions of
 * keys (a key in both is taken exclusively), `escalation` a boolean expression for the escalation key
 * (true: exclusive, false: shared) or undefined to leave it alone.
 */
export function lockStatement(
  configured: string,
  exclusive: string,
  shared: string,
  escalation?: string,
): string {
  const last =
    escalation === undefined
      ? ''
      : `\n    UNION ALL SELECT 1, hashtextextended('${configured}|!', 0), ${escalation}`;
  return `PERFORM CASE WHEN held.exclusive THEN pg_advisory_xact_lock(held.id) ELSE pg_advisory_xact_lock_shared(held.id) END
  FROM (
    SELECT 0 AS pass, hashtextextended('${configured}|' || requested.key, 0) AS id, bool_or(requested.exclusive) AS exclusive
    FROM (SELECT unnest(${exclusive}), true UNION ALL SELECT unnest(${shared}), false) AS requested (key, exclusive)
    GROUP BY 2${last}
    ORDER BY 1, 2
  ) AS held;`;
}

export const readCommittedCheck = `IF current_setting('transaction_isolation') <> 'read committed' THEN
    RAISE EXCEPTION 'the event store needs READ COMMITTED; this transaction runs %', current_setting('transaction_isolation')
      USING ERRCODE = '${NEEDS_READ_COMMITTED}';
  END IF;`;

/** `<table>_event_keys(type, payload)`: the lock keys of one row, exactly as lock-keys.ts computes them. */
function eventKeysFunction(): SqlFunction {
  return {
    suffix: '_event_keys',
    args: 'event_type text, payload jsonb',
    returns: 'text[]',
    kind: 'LANGUAGE sql IMMUTABLE PARALLEL SAFE',
    settings: [],
    body: `
  SELECT ARRAY['*', 't:' || event_type] || ARRAY(
    SELECT 'p:' || entry.key || ':' || CASE jsonb_typeof(entry.value)
      WHEN 'string' THEN 's' || (entry.value #>> '{}')
      WHEN 'number' THEN 'n' || trim_scale((entry.value #>> '{}')::numeric)::text
      WHEN 'boolean' THEN 'b' || (entry.value #>> '{}')
      WHEN 'null' THEN 'z'
      WHEN 'object' THEN 'o'
      ELSE 'a'
    END
    FROM jsonb_each(CASE jsonb_typeof(payload) WHEN 'object' THEN payload ELSE '{}' END) AS entry)
`,
  };
}

/**
 * `<table>_append(exclusive_keys, shared_keys, escalate, guard, params, expected, events)`: a batch of
 * appends whose boundaries do not touch each other, in one call. Takes the locks, computes every append's
 * max with `guard` (a `SELECT ARRAY[...]` built by core, values in `params`), and inserts the events of
 * each append whose max equals its expected one, in order. Returns the maxima, then the new positions.
 * Like every function here it runs with the caller's rights: running `guard` grants nothing the caller
 * could not do with a statement of its own.
 */
function appendFunction({ table, configured }: TableNames): SqlFunction {
  return {
    suffix: '_append',
    args: 'exclusive_keys text[], shared_keys text[], escalate boolean, guard text, params text[], expected bigint[], events jsonb',
    returns: 'bigint[]',
    kind: 'LANGUAGE plpgsql VOLATILE',
    settings: ['jit=off'],
    body: `
DECLARE
  maxima bigint[];
  positions bigint[];
BEGIN
  ${readCommittedCheck}
  ${lockStatement(configured, 'exclusive_keys', 'shared_keys', 'escalate')}
  EXECUTE guard INTO maxima USING params;
  PERFORM set_config('${APPEND_FLAG}', '${configured}', true);
  WITH inserted AS (
    INSERT INTO ${table} (event_type, occurred_at, payload, metadata)
    SELECT event->>'type', (event->>'occurredAt')::timestamptz, event->'payload', event->'metadata'
    FROM jsonb_array_elements(events) WITH ORDINALITY AS appended (batch, batch_position),
      jsonb_array_elements(appended.batch) WITH ORDINALITY AS input (event, event_position)
    WHERE maxima[batch_position] = expected[batch_position]
    ORDER BY batch_position, event_position
    RETURNING sequence_number
  )
  SELECT array_agg(sequence_number ORDER BY sequence_number) INTO positions FROM inserted;
  PERFORM set_config('${APPEND_FLAG}', '', true);
  RETURN maxima || coalesce(positions, '{}');
END
`,
  };
}

/**
 * `<table>_read(exclusive_keys, query, params)`: a strong read. The barrier (the filter's keys exclusive,
 * then the escalation key shared) is taken in a block that is rolled back, which releases it. Behind the
 * barrier no writer of a matching event holds a position, so every matching event up to the last position
 * drawn so far is committed: that position bounds the read, which `query` (built by core) runs as `$2`.
 */
function readFunction({ derived, configured }: TableNames): SqlFunction {
  return {
    suffix: '_read',
    args: 'exclusive_keys text[], query text, params text[]',
    returns: 'TABLE(sequence_number text, event_type text, occurred_at_ms text, payload text, metadata text)',
    kind: 'LANGUAGE plpgsql VOLATILE',
    settings: ['jit=off'],
    body: `
#variable_conflict use_column
DECLARE
  bound bigint;
BEGIN
  ${readCommittedCheck}
  BEGIN
    ${lockStatement(configured, 'exclusive_keys', "'{}'::text[]", 'false')}
    SELECT CASE WHEN drawn.is_called THEN drawn.last_value ELSE 0 END INTO bound FROM ${derived('_position_seq')} AS drawn;
    RAISE SQLSTATE 'ES000';
  EXCEPTION WHEN SQLSTATE 'ES000' THEN
    NULL; -- the rollback of this block released the barrier; bound keeps its value
  END;
  RETURN QUERY EXECUTE query USING params, bound;
END
`,
  };
}

/**
 * The trigger of plain INSERTs (writers that bypass the store): each row takes its keys shared, then
 * gets a fresh position (the column default was drawn before the locks). The transaction's first row
 * waits for its keys; a later row only try-locks them, since waiting there could close a cycle with a
 * decision, and takes the escalation key exclusive instead when a key is held or the transaction has
 * locked RAW_ESCALATE_AFTER keys; from then on its rows lock nothing.
 */
function insertTriggerFunction({ derived, configured }: TableNames): SqlFunction {
  const counter = `es.raw_locks_${hex(configured)}`;
  const ids = `SELECT DISTINCT hashtextextended('${configured}|' || key, 0) AS id FROM unnest(keys) AS key ORDER BY 1`;
  return {
    suffix: '_lock_inserted',
    args: '',
    returns: 'trigger',
    kind: 'LANGUAGE plpgsql VOLATILE',
    settings: ['jit=off'],
    body: `
DECLARE
  locked int := coalesce(nullif(current_setting('${counter}', true), ''), '0')::int;
  keys text[];
BEGIN
  IF locked >= 0 THEN
    keys := ${derived('_event_keys')}(NEW.event_type, NEW.payload);
    IF locked = 0 AND cardinality(keys) <= ${RAW_ESCALATE_AFTER} THEN
      PERFORM pg_advisory_xact_lock_shared(held.id) FROM (${ids}) AS held;
      locked := cardinality(keys);
    ELSIF locked > 0 AND locked + cardinality(keys) <= ${RAW_ESCALATE_AFTER}
      AND (SELECT bool_and(pg_try_advisory_xact_lock_shared(held.id)) FROM (${ids}) AS held) THEN
      locked := locked + cardinality(keys);
    ELSE
      PERFORM pg_advisory_xact_lock(hashtextextended('${configured}|!', 0));
      locked := -1;
    END IF;
    PERFORM set_config('${counter}', locked::text, true);
  END IF;
  NEW.sequence_number := nextval('${derived('_position_seq')}'::regclass);
  RETURN NEW;
END
`,
  };
}

/** Hex of the UTF-8 bytes: a setting name per table that case folding cannot merge. */
function hex(text: string): string {
  return [...new TextEncoder().encode(text)].map((byte) => byte.toString(16).padStart(2, '0')).join('');
}
