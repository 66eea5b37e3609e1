import type { Row, Statement } from './driver.js';
import { InvalidArgumentError, InvalidEventError } from './errors.js';
import type { EventFilter, JsonValue } from './filter.js';
import { canonicalJson, compareCodeUnits } from './json-value.js';
import { eventTypeProblem, type JsonObject, toJsonObject } from './storable-event.js';
import type { TableNames } from './table-name.js';

/** A projection's saved state: built from the events matching a filter, up to `sequenceNumber`. */
export interface Snapshot {
  readonly projectionType: string;
  /** The filter's hash (see `filterHash`). */
  readonly filterHash: string;
  /** The position up to which the state includes the filter's events; read on from there. */
  readonly sequenceNumber: bigint;
  readonly state: JsonObject;
  readonly savedAt: Date;
}

/** What `saveSnapshot` takes. */
export interface SnapshotInput {
  readonly projectionType: string;
  readonly filter: EventFilter;
  readonly sequenceNumber: bigint;
  /** A JSON object, validated like an event's payload. */
  readonly state: JsonObject | string;
}

/**
 * The stable hash of a filter: SHA-256 (hex) of its canonical JSON (object keys sorted, no spaces), with
 * each item's event types and predicates, and the items themselves, without duplicates and sorted by
 * their canonical JSON; the bounds as ISO 8601 text and decimal text, or null. Equal filters hash alike however they were built; the hash of a
 * filter never changes between releases (it keys saved snapshots).
 */
export async function filterHash(filter: EventFilter): Promise<string> {
  const items = filter.items.map((item) => ({
    all: item.allPredicatesMustMatch,
    predicates: sortedUnique(item.predicates.map((p) => ({ key: p.key, value: p.value }))),
    types: [...new Set(item.eventTypes)].sort(compareCodeUnits),
  }));
  const canonical = canonicalJson({
    items: sortedUnique(items),
    occurredFrom: filter.occurredFrom?.toISOString() ?? null,
    occurredUntil: filter.occurredUntil?.toISOString() ?? null,
    sequenceNumberHigherThan: filter.sequenceNumberHigherThan?.toString() ?? null,
  });
  const digest = await globalThis.crypto.subtle.digest('SHA-256', new TextEncoder().encode(canonical));
  return [...new Uint8Array(digest)].map((byte) => byte.toString(16).padStart(2, '0')).join('');
}

/** `values` without duplicates, in the order of their canonical JSON text. */
function sortedUnique(values: readonly JsonValue[]): JsonValue[] {
  const byText = new Map(values.map((value) => [canonicalJson(value), value]));
  return [...byText.keys()].sort(compareCodeUnits).map((text) => byText.get(text) as JsonValue);
}

/** Checks a projection type: a non-empty name of at most 1,024 UTF-8 bytes (`InvalidArgumentError`). */
export function checkProjectionType(projectionType: unknown): string {
  const problem =
    typeof projectionType !== 'string' || projectionType.trim() === ''
      ? 'is not a non-empty string'
      : eventTypeProblem(projectionType);
  if (problem !== undefined) throw new InvalidArgumentError(`snapshot: the projection type ${problem}`);
  return projectionType as string;
}

/** The state as a validated JSON object (`InvalidArgumentError` naming the problem, never the state). */
export function checkState(state: unknown): JsonObject {
  try {
    return toJsonObject(state, 'snapshot: the state');
  } catch (error) {
    if (error instanceof InvalidEventError) throw new InvalidArgumentError(error.message);
    throw error;
  }
}

/** Saves a snapshot unless a higher one is stored: the row lock of the upsert orders concurrent saves. */
export function saveSnapshotStatement(
  names: TableNames,
  projectionType: string,
  hash: string,
  sequenceNumber: bigint,
  state: JsonObject,
): Statement {
  const table = names.derived('_snapshots');
  return {
    name: 'es.snapshot.save',
    text: `INSERT INTO ${table} AS saved (projection_type, filter_hash, sequence_number, state)
VALUES ($1, $2, $3::text::bigint, $4::text::jsonb)
ON CONFLICT (projection_type, filter_hash) DO UPDATE
  SET sequence_number = EXCLUDED.sequence_number, state = EXCLUDED.state, saved_at = now()
  WHERE saved.sequence_number <= EXCLUDED.sequence_number`,
    values: [projectionType, hash, sequenceNumber.toString(), JSON.stringify(state)],
  };
}

/** Reads one snapshot. */
export function loadSnapshotStatement(names: TableNames, projectionType: string, hash: string): Statement {
  return {
    name: 'es.snapshot.load',
    text: `SELECT sequence_number::text AS sequence_number, state::text AS state,
  floor(extract(epoch FROM saved_at) * 1000)::bigint::text AS saved_at_ms
FROM ${names.derived('_snapshots')} WHERE projection_type = $1 AND filter_hash = $2`,
    values: [projectionType, hash],
  };
}

/** Deletes one snapshot (nothing when there is none). */
export function deleteSnapshotStatement(names: TableNames, projectionType: string, hash: string): Statement {
  return {
    name: 'es.snapshot.delete',
    text: `DELETE FROM ${names.derived('_snapshots')} WHERE projection_type = $1 AND filter_hash = $2`,
    values: [projectionType, hash],
  };
}

/** The snapshot of a load statement's row. */
export function decodeSnapshot(projectionType: string, hash: string, row: Row): Snapshot {
  return {
    projectionType,
    filterHash: hash,
    sequenceNumber: BigInt(row.sequence_number as string),
    state: JSON.parse(row.state as string) as JsonObject,
    savedAt: new Date(Number(row.saved_at_ms)),
  };
}
