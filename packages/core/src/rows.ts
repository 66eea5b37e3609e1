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

/** Decodes a PostgreSQL bigint[] text literal such as `{1,2,3}`. */
export function decodeBigintArray(text: string): bigint[] {
  const inner = text.slice(1, -1);
  return inner === '' ? [] : inner.split(',').map((item) => BigInt(item));
}
