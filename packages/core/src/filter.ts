/**
 * The filter model: an OR of items; each item is (event type in T) AND (all-of or any-of predicates).
 * Build filters with `buildEventFilter()`; these types describe what it produces.
 */

/** A JSON value as stored in a payload. */
export type JsonValue =
  | null
  | boolean
  | number
  | string
  | readonly JsonValue[]
  | { readonly [key: string]: JsonValue };

/** `P(key, value)` matches events whose payload contains `{ [key]: value }` (PostgreSQL `@>`). */
export interface Predicate {
  readonly key: string;
  readonly value: JsonValue;
}

/** One alternative of a filter. Empty `eventTypes` means any type; empty `predicates` means any payload. */
export interface FilterItem {
  readonly eventTypes: readonly string[];
  readonly predicates: readonly Predicate[];
  /** `true`: every predicate must match (AND); `false`: at least one (OR). */
  readonly allPredicatesMustMatch: boolean;
}

/** A finalized, sanitized, immutable filter. */
export interface EventFilter {
  /** Alternatives joined by OR. Empty: the filter matches every event (within the bounds below). */
  readonly items: readonly FilterItem[];
  /** Inclusive lower time bound. */
  readonly occurredFrom?: Date;
  /** Inclusive upper time bound. */
  readonly occurredUntil?: Date;
  /** Exclusive lower bound on the position. Excludes the time bounds. */
  readonly sequenceNumberHigherThan?: bigint;
}

/** Creates a predicate: the payload must contain `{ [key]: value }`. */
export function P(key: string, value: JsonValue): Predicate {
  return Object.freeze({ key, value });
}
