import type { TableNames } from '../table-name.js';
import { createFunction, type SqlFunction } from './sql-function.js';
import { step3Functions } from './v3.js';

/**
 * Migration step 6: a strong read with a plan of its own.
 *
 * Step 3's `<table>_read` takes the barrier, then runs the read core builds as dynamic SQL (`RETURN QUERY
 * EXECUTE`): parsed and planned on every call, with the time converted to milliseconds in numeric
 * arithmetic. Measured here on a 10-event boundary, the server spent 1.7x a plain SELECT on it. The new
 * `<table>_read_matching(exclusive_keys, params)` takes the same barrier in the same block, then reads the
 * events of payload containments (`containments` in filter-sql.ts, as pairs in `params`: payload as JSON,
 * event types as a JSON array, empty for any type) in one static statement on a plan it keeps, each event
 * as the JSON array core reads (`eventJson`). As in step 5 the plan is the same for every value and cannot
 * become a walk of the primary key: each containment is read above a fence (`OFFSET 0`) through the
 * payload index (`enable_seqscan = off`), and the bound and the order are applied to what it found.
 * Other filters keep `<table>_read`.
 *
 * Nothing of step 3 changes: a client of step 5 keeps working on a database of step 6.
 */
export function step6Statements(names: TableNames): string[] {
  return step6Functions(names).map((fn) => createFunction(names, fn));
}

/** The functions step 6 defines, as `migrate()` expects to find them. */
export function step6Functions(names: TableNames): SqlFunction[] {
  const read = step3Functions(names).find((fn) => fn.suffix === '_read') as SqlFunction;
  if (!read.body.includes(DYNAMIC_READ)) throw new Error('step 3 read function: read not found');
  return [
    {
      suffix: '_read_matching',
      args: 'exclusive_keys text[], params text[]',
      returns: 'TABLE(event text)',
      kind: read.kind,
      settings: [...read.settings, 'enable_seqscan=off', 'plan_cache_mode=force_generic_plan'],
      body: read.body.replace(DYNAMIC_READ, staticRead(names)),
    },
  ];
}

const DYNAMIC_READ = 'RETURN QUERY EXECUTE query USING params, bound;';

/** The events that contain one of the containments and have one of its types, up to `bound`, in order. */
function staticRead({ table }: TableNames): string {
  return `RETURN QUERY
    SELECT json_build_array(found.sequence_number::text, found.event_type, found.occurred_at, found.payload,
      found.metadata, found.id)::text
    FROM (
      SELECT DISTINCT ON (matching.sequence_number) matching.*
      FROM generate_series(1, cardinality(params), 2) AS at (i),
        LATERAL (SELECT params[at.i]::jsonb AS payload, params[at.i + 1]::jsonb AS event_types) AS branch,
        LATERAL (SELECT * FROM ${table} AS stored WHERE stored.payload @> branch.payload OFFSET 0) AS matching
      WHERE (branch.event_types = '[]' OR branch.event_types ? matching.event_type)
        AND matching.sequence_number <= bound
      ORDER BY matching.sequence_number
    ) AS found
    ORDER BY found.sequence_number;`;
}
