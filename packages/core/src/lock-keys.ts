import type { EventFilter, JsonValue } from './filter.js';
import type { StorableEvent } from './storable-event.js';

/**
 * Advisory lock keys: the append guard's correctness under concurrency rests on these.
 *
 * Soundness rule: every event that matches a filter shares at least one key with that filter.
 * - An event yields `*`, its type, and one key per top-level payload entry: the key and the value's
 *   JSON for scalars (numbers compare as numbers in jsonb and as the same JS number here), or the key
 *   and the value's kind for objects and arrays (`payload @> {k: v}` with a scalar `v` never matches an
 *   array or object at `k`, and an object or array `v` only matches the same kind).
 * - A filter item with predicates yields one predicate key (all-of: any one predicate is necessary)
 *   or every predicate key (any-of); an item with only types yields its type keys; a filter without
 *   items yields `*`.
 *
 * Modes: on a shared key every pair of a writer (an append, for its new events) and a reader (a strong
 * read or an append's guard, for its filter) must conflict, and writers should not conflict among
 * themselves where possible. Predicate keys are fine-grained: writers take them exclusively, strong
 * reads shared, so readers of one boundary run side by side. `*` and type keys are coarse, held by
 * very many writers: writers take them shared and readers exclusively. An append's guard takes all its
 * filter's keys exclusively. All locks are taken in one pass in ascending hash order (no deadlocks)
 * and held to the end of the transaction. Keys are hashed to 64 bits in SQL; a collision only adds
 * waiting, never a missed conflict.
 */

/** Keys to lock, by mode. */
export interface LockSet {
  readonly exclusive: readonly string[];
  readonly shared: readonly string[];
}

const ANY_EVENT = '*';

function typeKey(type: string): string {
  return `t:${type}`;
}

function predicateKey(key: string, value: JsonValue): string {
  if (Array.isArray(value)) return `p:${JSON.stringify([key, 'array'])}`;
  if (value !== null && typeof value === 'object') return `p:${JSON.stringify([key, 'object'])}`;
  return `p:${JSON.stringify([key, 'value', value])}`;
}

/** The keys a read of `filter` must lock. */
function filterLockKeys(filter: EventFilter): string[] {
  if (filter.items.length === 0) return [ANY_EVENT];
  const keys = new Set<string>();
  for (const item of filter.items) {
    const [first] = item.predicates;
    if (first && item.allPredicatesMustMatch) {
      keys.add(predicateKey(first.key, first.value));
    } else if (first) {
      for (const predicate of item.predicates) keys.add(predicateKey(predicate.key, predicate.value));
    } else if (item.eventTypes.length > 0) {
      for (const type of item.eventTypes) keys.add(typeKey(type));
    } else {
      keys.add(ANY_EVENT);
    }
  }
  return [...keys];
}

/** Every key some filter matching one of `events` could lock. */
function eventLockKeys(events: readonly StorableEvent[]): string[] {
  const keys = new Set<string>([ANY_EVENT]);
  for (const event of events) {
    keys.add(typeKey(event.type));
    for (const [key, value] of Object.entries(event.payload)) keys.add(predicateKey(key, value));
  }
  return [...keys];
}

const isCoarse = (key: string) => !key.startsWith('p:');

/** The locks of an append: its guard reads `filter`, and it writes `events`. */
export function appendLocks(filter: EventFilter, events: readonly StorableEvent[]): LockSet {
  const exclusive = new Set(filterLockKeys(filter));
  const shared: string[] = [];
  for (const key of eventLockKeys(events)) {
    if (isCoarse(key)) shared.push(key);
    else exclusive.add(key);
  }
  return { exclusive: [...exclusive], shared };
}

/** The locks of a strong read of `filter` (its read barrier). */
export function readLocks(filter: EventFilter): LockSet {
  const keys = filterLockKeys(filter);
  return { exclusive: keys.filter(isCoarse), shared: keys.filter((key) => !isCoarse(key)) };
}
