import type { TableNames } from '../table-name.js';
import { createFunction, type SqlFunction } from './sql-function.js';
import { step3Functions } from './v3.js';

/**
 * Migration step 5: a guard with a plan of its own.
 *
 * Step 3's `<table>_append` runs the guard core builds as dynamic SQL (`EXECUTE guard`): parsed and
 * planned on every call, about 0.1 ms of a 0.5 ms append on the server. For the filters made of payload
 * containments (`containments` in filter-sql.ts: the usual boundary, event types and predicates on its
 * identifiers) core now sends `guard` NULL and the containments in `params`, and the function runs one
 * static statement on a plan it keeps (`plan_cache_mode = force_generic_plan`: a custom plan would be
 * made again on every call). That plan is the same for every value and cannot flip to a walk of the
 * primary key: the max is taken above a fence (`OFFSET 0`) around the containment, so no index order can
 * serve it, and the function runs with `enable_seqscan = off`, so the containment is always read through
 * the payload index (without it, the value being unknown when the plan is made, the planner picks a
 * sequential scan on a table of 50,000 events). Other filters take step 3's path, whose one-shot
 * `EXECUTE` is planned with its values as before; the function's other statements read no table or
 * only through an index.
 *
 * The arguments stay step 3's, so a client of step 3 keeps working on a database of step 5.
 */
export function step5Statements(names: TableNames): string[] {
  return step5Functions(names).map((fn) => createFunction(names, fn));
}

/** The functions step 5 defines, as `migrate()` expects to find them. */
export function step5Functions(names: TableNames): SqlFunction[] {
  const append = step3Functions(names).find((fn) => fn.suffix === '_append') as SqlFunction;
  if (!append.body.includes(DYNAMIC_GUARD)) throw new Error('step 3 append function: guard not found');
  return [
    {
      ...append,
      settings: [...append.settings, 'enable_seqscan=off', 'plan_cache_mode=force_generic_plan'],
      body: append.body.replace(DYNAMIC_GUARD, staticGuard(names)),
    },
  ];
}

const DYNAMIC_GUARD = 'EXECUTE guard INTO maxima USING params;';

/**
 * With `guard` NULL, `params` holds triples (append ordinal in the batch, payload containment as JSON,
 * event types as a JSON array, empty for any type): an append's max is the largest position of an event
 * that contains one of its containments and has one of its types.
 */
function staticGuard({ table }: TableNames): string {
  return `IF guard IS NULL THEN
    SELECT array_agg((
      SELECT coalesce(max(matching.sequence_number), 0)
      FROM generate_series(1, cardinality(params), 3) AS at (i),
        LATERAL (SELECT params[at.i]::int AS ordinal, params[at.i + 1]::jsonb AS payload,
          params[at.i + 2]::jsonb AS event_types) AS branch,
        LATERAL (SELECT stored.sequence_number, stored.event_type FROM ${table} AS stored
          WHERE stored.payload @> branch.payload OFFSET 0) AS matching
      WHERE branch.ordinal = appended.ordinal
        AND (branch.event_types = '[]' OR branch.event_types ? matching.event_type)
    ) ORDER BY appended.ordinal) INTO maxima
    FROM generate_series(1, cardinality(expected)) AS appended (ordinal);
  ELSE
    EXECUTE guard INTO maxima USING params;
  END IF;`;
}
