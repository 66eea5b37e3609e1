import type { Statement } from './driver.js';
import type { EventFilter } from './filter.js';
import { Params, readCondition } from './filter-sql.js';
import { filterKeys } from './lock-keys.js';
import { eventJson, textArray } from './statements.js';
import type { TableNames } from './table-name.js';

/**
 * The statements of `queryStream`: a strong stream first takes its filter's read barrier and keeps only its
 * bound (the last position drawn behind it: every matching event up to it has committed), then reads up to
 * that bound; an eventual one reads what its snapshot holds. On a driver with transactions the rows come
 * through a cursor (one snapshot, `FETCH` per batch); without (Neon's HTTP driver) in keyset pages.
 */

/** The name of the stream's cursor, inside its own transaction. */
const CURSOR = 'es_stream';

/** A strong stream's bound: the read barrier of `<table>_read`, whose query returns only the bound. */
export function streamBoundStatement(names: TableNames, filter: EventFilter): Statement {
  return {
    name: 'es.stream.bound',
    text: `SELECT sequence_number AS bound FROM ${names.derived('_read')}($1::text::text[], $2::text, '{}'::text[])`,
    values: [
      textArray(filterKeys(filter)),
      'SELECT $2::text, NULL::text, NULL::text, NULL::text, NULL::text, NULL::text',
    ],
  };
}

/** Opens the stream's cursor over the matching events in position order, up to `bound` when given. */
export function streamCursorStatement(names: TableNames, filter: EventFilter, bound?: bigint): Statement {
  const { text, values } = select(names, filter, undefined, bound);
  return { name: 'es.stream.cursor', text: `DECLARE ${CURSOR} NO SCROLL CURSOR FOR ${text}`, values };
}

/** The next `batchSize` rows of the stream's cursor. */
export function streamFetchStatement(batchSize: number): Statement {
  return {
    name: 'es.stream.fetch',
    text: `FETCH FORWARD ${checkedBatch(batchSize)} FROM ${CURSOR}`,
    values: [],
  };
}

/** One keyset page: the next `batchSize` matching events after position `after`, up to `bound` when given. */
export function streamPageStatement(
  names: TableNames,
  filter: EventFilter,
  after: bigint,
  batchSize: number,
  bound?: bigint,
): Statement {
  const { text, values } = select(names, filter, after, bound);
  return { name: 'es.stream.page', text: `${text} LIMIT ${checkedBatch(batchSize)}`, values };
}

function select(
  names: TableNames,
  filter: EventFilter,
  after: bigint | undefined,
  bound: bigint | undefined,
) {
  const { table } = names;
  const params = new Params((position) => `$${position}`);
  const conditions = [readCondition(filter, params)];
  if (after !== undefined)
    conditions.push(`${table}.sequence_number > ${params.text(after.toString())}::bigint`);
  if (bound !== undefined)
    conditions.push(`${table}.sequence_number <= ${params.text(bound.toString())}::bigint`);
  const text = `SELECT ${eventJson(table)} FROM ${table} WHERE ${conditions.join(' AND ')} ORDER BY ${table}.sequence_number`;
  return { text, values: params.values };
}

/** A batch size as SQL: a whole number (validated by the store), never a caller's text. */
function checkedBatch(batchSize: number): number {
  if (!Number.isSafeInteger(batchSize) || batchSize < 1)
    throw new RangeError('batch size must be a positive integer');
  return batchSize;
}
