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

/** Decodes a row of the query statement (every column selected as text). */
export function decodeEvent(row: Row): StoredEvent {
  return {
    sequenceNumber: BigInt(column(row, 'sequence_number')),
    type: column(row, 'event_type'),
    occurredAt: new Date(Number(column(row, 'occurred_at_ms'))),
    payload: JSON.parse(column(row, 'payload')) as JsonObject,
    metadata: JSON.parse(column(row, 'metadata')) as JsonObject,
  };
}

/**
 * Decodes the result of the append statement for `batch`: each append's max, then the positions of the
 * appends whose max was the expected one, in batch order.
 */
export function decodeAppendOutcomes(
  rows: readonly Row[],
  batch: readonly { readonly expected: bigint; readonly events: readonly unknown[] }[],
): AppendOutcome[] {
  const numbers = decodeBigintArray(column(rows[0] ?? {}, 'result'));
  let next = batch.length;
  return batch.map(({ expected, events }, index) => {
    const max = numbers[index] as bigint;
    if (max !== expected) return { max, positions: undefined };
    const positions = numbers.slice(next, next + events.length);
    next += events.length;
    if (positions.length !== events.length) {
      throw new QueryFailedError(
        'eventstore.append: the append function returned too few positions',
        undefined,
        undefined,
      );
    }
    return { max, positions };
  });
}

/** Decodes a PostgreSQL bigint[] text literal such as `{1,2,3}`. */
export function decodeBigintArray(text: string): bigint[] {
  const inner = text.slice(1, -1);
  return inner === '' ? [] : inner.split(',').map((item) => BigInt(item));
}
