import type { EventFilter, JsonValue } from './filter.js';
import type { StorableEvent } from './storable-event.js';

/**
 * Advisory lock keys: the append guard's correctness under concurrency rests on these.
 *
 * Rule: every event that matches a filter shares at least one key with that filter. An append locks
 * its filter's keys exclusively and its new events' keys shared; a strong read locks its filter's
 * keys exclusively. So a reader or guard of filter F waits for every in-flight append whose events
 * could match F, and such an append started later waits for it. Keys are hashed to 64 bits in SQL;
 * a collision only adds waiting, never a missed conflict.
 *
 * - an event yields `*`, its type, and one key per top-level payload entry: the key and the value's
 *   JSON for scalars (numbers compare as numbers in jsonb and as the same JS number here), or the key
 *   and the value's kind for objects and arrays (`payload @> {k: v}` with a scalar `v` never matches an
 *   array or object at `k`, and an object or array `v` only matches the same kind);
 * - a filter item with predicates yields one predicate key (all-of: any one predicate is necessary)
 *   or every predicate key (any-of); an item with only types yields its type keys; a filter without
 *   items yields `*`.
 */

const ANY_EVENT = '*';

function typeKey(type: string): string {
  return `t:${type}`;
}

function predicateKey(key: string, value: JsonValue): string {
  if (Array.isArray(value)) return `p:${JSON.stringify([key, 'array'])}`;
  if (value !== null && typeof value === 'object') return `p:${JSON.stringify([key, 'object'])}`;
  return `p:${JSON.stringify([key, 'value', value])}`;
}

/** The keys a guard or strong read of `filter` locks exclusively. */
export function filterLockKeys(filter: EventFilter): string[] {
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

/** The keys an append of `events` locks shared: every key some filter matching one of them could lock. */
export function eventLockKeys(events: readonly StorableEvent[]): string[] {
  const keys = new Set<string>([ANY_EVENT]);
  for (const event of events) {
    keys.add(typeKey(event.type));
    for (const [key, value] of Object.entries(event.payload)) keys.add(predicateKey(key, value));
  }
  return [...keys];
}
