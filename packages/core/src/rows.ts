import type { AppendOutcome } from './append-batcher.js';
import type { Row } from './driver.js';
import { QueryFailedError } from './errors.js';
import type { JsonObject, StoredEvent } from './storable-event.js';

function column(row: Row, name: string): string {
  const value = row[name];
  if (typeof value !== 'string')
    throw new QueryFailedError(`decode: column ${name} is missing`, undefined, undefined);
  return value;
}

/** A JSON object column; `{}` (most events' metadata) without a parse. */
const parseObject = (text: string): JsonObject => (text === '{}' ? {} : (JSON.parse(text) as JsonObject));

/** Decodes a row of the query statement (every column selected as text). */
export function decodeEvent(row: Row): StoredEvent {
  const event = {
    sequenceNumber: BigInt(column(row, 'sequence_number')),
    type: column(row, 'event_type'),
    occurredAt: new Date(Number(column(row, 'occurred_at_ms'))),
    payload: parseObject(column(row, 'payload')),
    metadata: parseObject(column(row, 'metadata')),
  };
  const id = row.id;
  return typeof id === 'string' ? { ...event, id } : event;
}

/** The max the append function reports for an append whose event ids an earlier append stored. */
const REPLAYED = -1n;

/**
 * Decodes the result of the append statement for `batch` (see `appendStatement`): each append's max, then
 * the positions of the appends whose max was the expected one, then those of the replayed appends (an
 * earlier append stored their events: their positions, reported as a success with the expected max).
 */
export function decodeAppendOutcomes(
  rows: readonly Row[],
  batch: readonly { readonly expected: bigint; readonly events: readonly unknown[] }[],
): AppendOutcome[] {
  const numbers = decodeBigintArray(column(rows[0] ?? {}, 'result'));
  const lsn = rows[0]?.lsn ?? undefined;
  const maxima = numbers.slice(0, batch.length);
  let inserted = batch.length;
  let replayed =
    inserted +
    batch.reduce(
      (sum, { expected, events }, index) => sum + (maxima[index] === expected ? events.length : 0),
      0,
    );
  return batch.map(({ expected, events }, index) => {
    const max = maxima[index] as bigint;
    if (max !== expected && max !== REPLAYED) return { max, positions: undefined, lsn };
    const next = max === REPLAYED ? replayed : inserted;
    const positions = numbers.slice(next, next + events.length);
    if (max === REPLAYED) replayed += events.length;
    else inserted += events.length;
    if (positions.length !== events.length) {
      throw new QueryFailedError(
        'eventstore.append: the append function returned too few positions',
        undefined,
        undefined,
      );
    }
    return { max: expected, positions, lsn };
  });
}

/** Decodes a PostgreSQL bigint[] text literal such as `{1,2,3}`. */
export function decodeBigintArray(text: string): bigint[] {
  const inner = text.slice(1, -1);
  return inner === '' ? [] : inner.split(',').map((item) => BigInt(item));
}
