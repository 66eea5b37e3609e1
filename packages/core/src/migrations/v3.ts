import type { TableNames } from '../table-name.js';
import { createFunction, type SqlFunction } from './sql-function.js';
import { APPEND_FLAG, dropFunctions, lockStatement, readCommittedCheck } from './v2.js';

/**
 * Migration step 3: event ids and definite answers.
 *
 * - An optional `id uuid` column with a unique (partial) index: an append whose events carry ids can be
 *   retried after an unknown outcome. `<table>_append` looks the ids up after taking its locks; when an
 *   earlier append stored all of them, it returns that append's positions instead of inserting again
 *   (and instead of reporting a conflict, since those events may match the append's own filter); when it
 *   stored only some, or in another order, the append is refused with SQLSTATE ES002. A retry takes the
 *   same locks as the append it repeats, so it waits for that append if it is still in flight.
 * - `<table>_read` refuses (SQLSTATE 25006) on a server in recovery: a strong read answered by a standby
 *   would be stale, and means the primary and replica were swapped.
 *
 * The helpers shared with step 2 must not change what step 2 produces.
 */

/** SQLSTATE of an append whose event ids an earlier append stored only in part. */
export const EVENT_IDS_TAKEN = 'ES002';

/** The step's statements: the column, its index, and the functions (dropped first: their signatures change). */
export function step3Statements(names: TableNames): string[] {
  const { table, bare } = names;
  return [
    `ALTER TABLE ${table} ADD COLUMN IF NOT EXISTS id uuid`,
    `CREATE UNIQUE INDEX IF NOT EXISTS "${bare}_id_idx" ON ${table} (id) WHERE id IS NOT NULL`,
    dropFunctions(names, ['_append', '_read']),
    ...step3Functions(names).map((fn) => createFunction(names, fn)),
  ];
}

/** The functions step 3 defines, as `migrate()` expects to find them. */
export function step3Functions(names: TableNames): SqlFunction[] {
  return [appendFunction(names), readFunction(names)];
}

/**
 * `<table>_append(exclusive_keys, shared_keys, escalate, guard, params, expected, events, with_ids)`: a
 * batch of appends whose boundaries do not touch each other, in one call. Takes the locks, computes every
 * append's max with `guard` (a `SELECT ARRAY[...]` built by core, values in `params`); when `with_ids`,
 * marks each append whose ids are all stored as replayed (max -1); inserts the events of each append whose
 * max equals its expected one, in order. Returns the maxima, then the new positions, then the stored
 * positions of the replayed appends, each in batch order. Like every function here it runs with the
 * caller's rights: running `guard` grants nothing the caller could not do with a statement of its own.
 */
function appendFunction({ table, configured }: TableNames): SqlFunction {
  return {
    suffix: '_append',
    args: 'exclusive_keys text[], shared_keys text[], escalate boolean, guard text, params text[], expected bigint[], events jsonb, with_ids boolean',
    returns: 'bigint[]',
    kind: 'LANGUAGE plpgsql VOLATILE',
    settings: ['jit=off'],
    body: `
DECLARE
  maxima bigint[];
  positions bigint[];
  replayed bigint[] := '{}';
  request int;
  known record;
BEGIN
  ${readCommittedCheck}
  ${lockStatement(configured, 'exclusive_keys', 'shared_keys', 'escalate')}
  EXECUTE guard INTO maxima USING params;
  IF with_ids THEN
    FOR request IN 1 .. cardinality(maxima) LOOP
      SELECT count(*) AS given, count(stored.sequence_number) AS found,
        array_agg(stored.sequence_number ORDER BY input.event_position) AS at
      INTO known
      FROM jsonb_array_elements(events -> (request - 1)) WITH ORDINALITY AS input (event, event_position)
      LEFT JOIN ${table} AS stored ON stored.id = (input.event ->> 'id')::uuid AND stored.id IS NOT NULL
      WHERE input.event ? 'id';
      CONTINUE WHEN known.found = 0;
      IF known.found < known.given OR known.at <> ARRAY(SELECT unnest(known.at) ORDER BY 1) THEN
        RAISE EXCEPTION 'append % of the batch: some of its event ids are stored already, by another append', request
          USING ERRCODE = '${EVENT_IDS_TAKEN}';
      END IF;
      maxima[request] := -1;
      replayed := replayed || known.at;
    END LOOP;
  END IF;
  PERFORM set_config('${APPEND_FLAG}', '${configured}', true);
  WITH inserted AS (
    INSERT INTO ${table} (event_type, occurred_at, payload, metadata, id)
    SELECT event->>'type', (event->>'occurredAt')::timestamptz, event->'payload', event->'metadata', (event->>'id')::uuid
    FROM jsonb_array_elements(events) WITH ORDINALITY AS appended (batch, batch_position),
      jsonb_array_elements(appended.batch) WITH ORDINALITY AS input (event, event_position)
    WHERE maxima[batch_position] = expected[batch_position]
    ORDER BY batch_position, event_position
    RETURNING sequence_number
  )
  SELECT array_agg(sequence_number ORDER BY sequence_number) INTO positions FROM inserted;
  PERFORM set_config('${APPEND_FLAG}', '', true);
  RETURN maxima || coalesce(positions, '{}') || replayed;
END
`,
  };
}

/**
 * `<table>_read(exclusive_keys, query, params)`: a strong read, as in step 2 (the barrier in a block whose
 * rollback releases it, then `query` up to the last position drawn behind it), refused on a standby.
 */
function readFunction({ derived, configured }: TableNames): SqlFunction {
  return {
    suffix: '_read',
    args: 'exclusive_keys text[], query text, params text[]',
    returns:
      'TABLE(sequence_number text, event_type text, occurred_at_ms text, payload text, metadata text, id text)',
    kind: 'LANGUAGE plpgsql VOLATILE',
    settings: ['jit=off'],
    body: `
#variable_conflict use_column
DECLARE
  bound bigint;
BEGIN
  IF pg_is_in_recovery() THEN
    RAISE EXCEPTION 'a strong read reached a server in recovery (a standby)' USING ERRCODE = '25006';
  END IF;
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
