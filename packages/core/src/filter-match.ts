/**
 * A pure, in-memory reference implementation of the filter semantics: decides whether an event matches an
 * `EventFilter` exactly as the store's SQL does, without a database. Tests use it as an oracle (query
 * matrices, concurrency checks). It trusts the filter to come from `buildEventFilter()`.
 */
import type { EventFilter, FilterItem, JsonValue } from './filter.js';

/** The parts of an event a filter looks at. */
export interface MatchableEvent {
  readonly type: string;
  readonly occurredAt: Date;
  readonly payload: { readonly [key: string]: JsonValue };
  /** The event's position; when absent, the filter's sequence bound is ignored. */
  readonly sequenceNumber?: bigint;
}

/**
 * `true` when `event` matches `filter`: it lies within the bounds (`occurredFrom` and `occurredUntil`
 * inclusive, `sequenceNumberHigherThan` exclusive) and matches at least one item, or the filter has no
 * items. An item matches when the type is one of its event types (or it has none) and its predicates hold
 * (all of them or any of them, as the item says; or it has none). `P(key, value)` holds when the payload
 * contains `{ [key]: value }` in the sense of PostgreSQL's jsonb `@>` (see `jsonContains`).
 */
export function matchesFilter(filter: EventFilter, event: MatchableEvent): boolean {
  const time = event.occurredAt.getTime();
  if (filter.occurredFrom !== undefined && time < filter.occurredFrom.getTime()) return false;
  if (filter.occurredUntil !== undefined && time > filter.occurredUntil.getTime()) return false;
  if (
    filter.sequenceNumberHigherThan !== undefined &&
    event.sequenceNumber !== undefined &&
    event.sequenceNumber <= filter.sequenceNumberHigherThan
  ) {
    return false;
  }
  return filter.items.length === 0 || filter.items.some((item) => matchesItem(item, event));
}

function matchesItem(item: FilterItem, event: MatchableEvent): boolean {
  if (item.eventTypes.length > 0 && !item.eventTypes.includes(event.type)) return false;
  if (item.predicates.length === 0) return true;
  const holds = (predicate: { readonly key: string; readonly value: JsonValue }): boolean =>
    Object.hasOwn(event.payload, predicate.key) &&
    containsNested(event.payload[predicate.key] as JsonValue, predicate.value);
  return item.allPredicatesMustMatch ? item.predicates.every(holds) : item.predicates.some(holds);
}

/**
 * PostgreSQL's jsonb containment, `container @> contained`:
 * - objects: every key of `contained` exists in `container` with a value that contains its value;
 * - arrays: every element of `contained` is contained in some element of `container` (order and
 *   duplicates do not matter);
 * - scalars: equal, with the same JSON type (numbers compare numerically, strings exactly);
 * - a scalar is contained in an array only at the top level (`[1, 2] @> 1`), never nested:
 *   `{"k": [1, 2]}` does not contain `{"k": 1}`; and a top-level scalar never contains an array.
 */
export function jsonContains(container: JsonValue, contained: JsonValue): boolean {
  if (isArray(container) && !isContainer(contained)) {
    return container.some((element) => !isContainer(element) && scalarsEqual(element, contained));
  }
  return containsNested(container, contained);
}

/** Containment below the top level: the two values must have the same JSON type. */
function containsNested(container: JsonValue, contained: JsonValue): boolean {
  if (isArray(contained)) {
    return isArray(container) && contained.every((wanted) => arrayContainsElement(container, wanted));
  }
  if (isObject(contained)) {
    if (!isObject(container)) return false;
    return Object.keys(contained).every(
      (key) =>
        Object.hasOwn(container, key) &&
        containsNested(container[key] as JsonValue, contained[key] as JsonValue),
    );
  }
  return !isContainer(container) && scalarsEqual(container, contained);
}

function arrayContainsElement(container: readonly JsonValue[], wanted: JsonValue): boolean {
  if (!isContainer(wanted)) {
    return container.some((element) => !isContainer(element) && scalarsEqual(element, wanted));
  }
  return container.some((element) => isContainer(element) && containsNested(element, wanted));
}

type JsonScalar = null | boolean | number | string;
type JsonObject = { readonly [key: string]: JsonValue };

/** Same JSON type and equal; `===` compares numbers numerically (`1 === 1.0`, `0 === -0`). */
function scalarsEqual(a: JsonScalar, b: JsonScalar): boolean {
  return a === b;
}

function isArray(value: JsonValue): value is readonly JsonValue[] {
  return Array.isArray(value);
}

function isObject(value: JsonValue): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isContainer(value: JsonValue): value is readonly JsonValue[] | JsonObject {
  return typeof value === 'object' && value !== null;
}
