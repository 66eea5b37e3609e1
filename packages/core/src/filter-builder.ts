/**
 * `buildEventFilter()`: a type-state builder for `EventFilter`. Every step returns a new frozen object
 * that offers only the steps allowed next, so an invalid order (finalizing an empty item, mixing a time
 * bound with the sequence bound, ...) does not compile. JavaScript callers get the same checks at run time:
 * a missing method is a `TypeError`, a bad argument an `InvalidFilterError`.
 *
 * ```ts
 * const filter = buildEventFilter()
 *   .matching()
 *   .anyEventTypeOf('BookCopyLentToReader', 'BookCopyReturnedByReader')
 *   .andAllPredicatesOf(P('bookId', 'b-1'), P('readerId', 'r-1'))
 *   .orMatching()
 *   .anyEventTypeOf('BookCopyRemovedFromCirculation')
 *   .andAnyPredicateOf(P('bookId', 'b-1'))
 *   .finalize();
 * ```
 *
 * Sanitising, applied to each item:
 * - event types: empty strings are dropped; the rest are sorted (UTF-16 code-unit order) and de-duplicated;
 * - predicates: those with an empty key are dropped; the rest are sorted by key, then by the canonical JSON
 *   of the value (see `canonicalJson`), and de-duplicated on that pair. Unlike the Go original, a predicate
 *   whose value is the empty STRING is kept: `""` is a legitimate JSON value and `{"k": ""}` a legitimate
 *   containment test. Only an empty key is dropped;
 * - an item left with neither event types nor predicates is an `InvalidFilterError`, never a silent
 *   match-everything (use `matchingAnyEvent()` for that).
 *
 * Predicate values must be JSON: strings, finite numbers, booleans, `null`, arrays and plain objects, with
 * no NUL character (`\u0000`) and no lone surrogate in any string or key (PostgreSQL's jsonb cannot store
 * them). Values are deep-copied and frozen (`-0` becomes `0`, as in jsonb) and dates are copied: the filter
 * never changes when the caller later mutates what it passed in. Error messages name the predicate key,
 * never the value.
 *
 * Run-time checks (for JavaScript callers, or values that only exist at run time), all `InvalidFilterError`:
 * an event type that is not a string, holds NUL or a lone surrogate, or is longer than the longest type
 * an event can have (`MAX_EVENT_TYPE_BYTES`); a call with no event types or no predicates; something that
 * is not a predicate; a value nested deeper than `MAX_JSON_DEPTH`; an invalid `Date` or one outside years
 * 1-9999; `andOccurredUntil` earlier than `occurredFrom` (equal is allowed); a sequence bound that is not
 * a `bigint` in 0 .. 2^63-1; more than `FILTER_LIMITS` items, predicates or event types (planning such a
 * filter costs more than reading its events).
 */
import { BUILT_FILTERS } from './built-filters.js';
import { InvalidFilterError } from './errors.js';
import { type EventFilter, type FilterItem, P, type Predicate } from './filter.js';
import { canonicalJson, compareCodeUnits, copyJsonValue, textProblem } from './json-value.js';
import { dateProblem, eventTypeProblem } from './storable-event.js';

/** The most a filter may hold: items, and predicates and event types summed over its items. */
export const FILTER_LIMITS = Object.freeze({ items: 32, predicates: 100, eventTypes: 100 });

/** The first step: start an item, accept every event, or bound a filter that has no items. */
export interface EventFilterBuilder {
  /** Starts the first item. */
  matching(): EmptyFilterItemBuilder;
  /** A filter with no items and no bounds: it matches every event. */
  matchingAnyEvent(): EventFilter;
  /** A filter with no items that matches every event that occurred at or after `date`. */
  occurredFrom(date: Date): OccurredFromFilterBuilder;
  /** A filter with no items that matches every event that occurred at or before `date`. */
  occurredUntil(date: Date): FinalFilterBuilder;
  /** A filter with no items that matches every event positioned strictly above `sequenceNumber`. */
  withSequenceNumberHigherThan(sequenceNumber: bigint): FinalFilterBuilder;
}

/** An item that has neither event types nor predicates yet: give it one of the two. */
export interface EmptyFilterItemBuilder {
  /** The event's type must be one of `eventTypes`. */
  anyEventTypeOf(...eventTypes: [string, ...string[]]): FilterItemBuilderLackingPredicates;
  /** At least one of `predicates` must hold (OR). */
  anyPredicateOf(...predicates: [Predicate, ...Predicate[]]): FilterItemBuilderLackingEventTypes;
  /** Every one of `predicates` must hold (AND). */
  allPredicatesOf(...predicates: [Predicate, ...Predicate[]]): FilterItemBuilderLackingEventTypes;
}

/**
 * An item with event types: add a predicate group, or leave it as it is (any payload) and go on like a
 * `CompletedFilterItemBuilder`.
 */
export interface FilterItemBuilderLackingPredicates extends CompletedFilterItemBuilder {
  /** At least one of `predicates` must hold (OR), in addition to the event types. */
  andAnyPredicateOf(...predicates: [Predicate, ...Predicate[]]): CompletedFilterItemBuilder;
  /** Every one of `predicates` must hold (AND), in addition to the event types. */
  andAllPredicatesOf(...predicates: [Predicate, ...Predicate[]]): CompletedFilterItemBuilder;
}

/**
 * An item with a predicate group: restrict it to event types, or leave it as it is (any type) and go on
 * like a `CompletedFilterItemBuilder`.
 */
export interface FilterItemBuilderLackingEventTypes extends CompletedFilterItemBuilder {
  /** The event's type must also be one of `eventTypes`. */
  andAnyEventTypeOf(...eventTypes: [string, ...string[]]): CompletedFilterItemBuilder;
}

/**
 * An item that can be closed: start another item (OR), add a bound, or finalize. Closing an item left
 * empty by sanitising throws `InvalidFilterError`.
 */
export interface CompletedFilterItemBuilder {
  /** Closes this item and starts another one; an event matching either item matches the filter. */
  orMatching(): EmptyFilterItemBuilder;
  /** Closes this item and returns the filter. */
  finalize(): EventFilter;
  /** Closes this item; only events that occurred at or after `date` match. */
  occurredFrom(date: Date): OccurredFromFilterBuilder;
  /** Closes this item; only events that occurred at or before `date` match. */
  occurredUntil(date: Date): FinalFilterBuilder;
  /** Closes this item; only events positioned strictly above `sequenceNumber` match. */
  withSequenceNumberHigherThan(sequenceNumber: bigint): FinalFilterBuilder;
}

/** A filter with a lower time bound: add the upper time bound or finalize. */
export interface OccurredFromFilterBuilder {
  /** Only events that occurred at or before `date` match; `date` must not be earlier than the lower bound. */
  andOccurredUntil(date: Date): FinalFilterBuilder;
  /** Returns the filter. */
  finalize(): EventFilter;
}

/** A filter that is complete (after `occurredUntil`, `andOccurredUntil` or the sequence bound). */
export interface FinalFilterBuilder {
  /** Returns the filter. */
  finalize(): EventFilter;
}

/** Starts building an `EventFilter`. */
export function buildEventFilter(): EventFilterBuilder {
  return Object.freeze({
    matching: () => emptyItemBuilder(NO_ITEMS),
    matchingAnyEvent: () => makeFilter(NO_ITEMS, {}),
    occurredFrom: (date: unknown) => occurredFromBuilder(NO_ITEMS, checkedDate(date, 'occurredFrom')),
    occurredUntil: (date: unknown) =>
      finalBuilder(NO_ITEMS, { occurredUntil: checkedDate(date, 'occurredUntil') }),
    withSequenceNumberHigherThan: (sequenceNumber: unknown) =>
      finalBuilder(NO_ITEMS, { sequenceNumberHigherThan: checkedSequenceNumber(sequenceNumber) }),
  });
}

// ---------------------------------------------------------------------------------------------------------
// Builder states. Each holds the closed items (a frozen array, shared but never mutated) and, for the item
// states, the open item. Every method returns a new object, so branching from one state twice is safe.

type Items = readonly FilterItem[];

interface Bounds {
  readonly occurredFrom?: Date;
  readonly occurredUntil?: Date;
  readonly sequenceNumberHigherThan?: bigint;
}

/** An open item: its parts are already sanitised; whether it is empty is checked when it is closed. */
interface OpenItem {
  readonly eventTypes: readonly string[];
  readonly predicates: readonly Predicate[];
  readonly allPredicatesMustMatch: boolean;
}

const NO_ITEMS: Items = Object.freeze([]);
const NO_TYPES: readonly string[] = Object.freeze([]);
const NO_PREDICATES: readonly Predicate[] = Object.freeze([]);

/** The largest PostgreSQL `bigint`: no position can be higher. */
const MAX_SEQUENCE_NUMBER = 9223372036854775807n;

function emptyItemBuilder(items: Items): EmptyFilterItemBuilder {
  return Object.freeze({
    anyEventTypeOf: (...eventTypes: unknown[]) =>
      lackingPredicatesBuilder(items, sanitizeEventTypes(eventTypes, 'anyEventTypeOf')),
    anyPredicateOf: (...predicates: unknown[]) =>
      lackingEventTypesBuilder(items, sanitizePredicates(predicates, 'anyPredicateOf'), false),
    allPredicatesOf: (...predicates: unknown[]) =>
      lackingEventTypesBuilder(items, sanitizePredicates(predicates, 'allPredicatesOf'), true),
  });
}

function lackingPredicatesBuilder(
  items: Items,
  eventTypes: readonly string[],
): FilterItemBuilderLackingPredicates {
  return Object.freeze({
    ...completedItemMethods(items, { eventTypes, predicates: NO_PREDICATES, allPredicatesMustMatch: true }),
    andAnyPredicateOf: (...predicates: unknown[]) =>
      completedItemBuilder(items, {
        eventTypes,
        predicates: sanitizePredicates(predicates, 'andAnyPredicateOf'),
        allPredicatesMustMatch: false,
      }),
    andAllPredicatesOf: (...predicates: unknown[]) =>
      completedItemBuilder(items, {
        eventTypes,
        predicates: sanitizePredicates(predicates, 'andAllPredicatesOf'),
        allPredicatesMustMatch: true,
      }),
  });
}

function lackingEventTypesBuilder(
  items: Items,
  predicates: readonly Predicate[],
  allPredicatesMustMatch: boolean,
): FilterItemBuilderLackingEventTypes {
  return Object.freeze({
    ...completedItemMethods(items, { eventTypes: NO_TYPES, predicates, allPredicatesMustMatch }),
    andAnyEventTypeOf: (...eventTypes: unknown[]) =>
      completedItemBuilder(items, {
        eventTypes: sanitizeEventTypes(eventTypes, 'andAnyEventTypeOf'),
        predicates,
        allPredicatesMustMatch,
      }),
  });
}

function completedItemBuilder(items: Items, item: OpenItem): CompletedFilterItemBuilder {
  return Object.freeze(completedItemMethods(items, item));
}

function completedItemMethods(items: Items, item: OpenItem): CompletedFilterItemBuilder {
  return {
    orMatching: () => emptyItemBuilder(closeItem(items, item)),
    finalize: () => makeFilter(closeItem(items, item), {}),
    occurredFrom: (date: unknown) => {
      const from = checkedDate(date, 'occurredFrom');
      return occurredFromBuilder(closeItem(items, item), from);
    },
    occurredUntil: (date: unknown) => {
      const until = checkedDate(date, 'occurredUntil');
      return finalBuilder(closeItem(items, item), { occurredUntil: until });
    },
    withSequenceNumberHigherThan: (sequenceNumber: unknown) => {
      const bound = checkedSequenceNumber(sequenceNumber);
      return finalBuilder(closeItem(items, item), { sequenceNumberHigherThan: bound });
    },
  };
}

function occurredFromBuilder(items: Items, occurredFrom: Date): OccurredFromFilterBuilder {
  return Object.freeze({
    andOccurredUntil: (date: unknown) => {
      const occurredUntil = checkedDate(date, 'andOccurredUntil');
      if (occurredFrom.getTime() > occurredUntil.getTime()) {
        throw new InvalidFilterError('andOccurredUntil(): the upper time bound is earlier than occurredFrom');
      }
      return finalBuilder(items, { occurredFrom, occurredUntil });
    },
    finalize: () => makeFilter(items, { occurredFrom }),
  });
}

function finalBuilder(items: Items, bounds: Bounds): FinalFilterBuilder {
  return Object.freeze({ finalize: () => makeFilter(items, bounds) });
}

/** Appends the open item to the closed ones, refusing an item that sanitising left empty. */
function closeItem(items: Items, item: OpenItem): Items {
  if (item.eventTypes.length === 0 && item.predicates.length === 0) {
    throw new InvalidFilterError(
      `item #${items.length + 1} has no event types and no predicates left after sanitising (empty event ` +
        'types and predicates with an empty key are dropped); use matchingAnyEvent() to match every event',
    );
  }
  const closed: FilterItem = Object.freeze({
    eventTypes: item.eventTypes,
    predicates: item.predicates,
    // Without predicates the group does not restrict the payload; normalise the flag for determinism.
    allPredicatesMustMatch: item.predicates.length === 0 ? true : item.allPredicatesMustMatch,
  });
  return Object.freeze([...items, closed]);
}

function makeFilter(items: Items, bounds: Bounds): EventFilter {
  const count = (part: 'eventTypes' | 'predicates') =>
    items.reduce((sum, item) => sum + item[part].length, 0);
  const over = (
    [
      ['items', items.length],
      ['predicates', count('predicates')],
      ['eventTypes', count('eventTypes')],
    ] as const
  ).find(([part, size]) => size > FILTER_LIMITS[part]);
  if (over) {
    const [part, size] = over;
    throw new InvalidFilterError(
      `the filter has ${size} ${part === 'eventTypes' ? 'event types' : part}; the limit is ${FILTER_LIMITS[part]}`,
    );
  }
  const filter: {
    items: Items;
    occurredFrom?: Date;
    occurredUntil?: Date;
    sequenceNumberHigherThan?: bigint;
  } = {
    items,
  };
  // Each filter gets its own Date copies: a Date's time cannot be frozen.
  if (bounds.occurredFrom !== undefined) filter.occurredFrom = frozenDate(bounds.occurredFrom);
  if (bounds.occurredUntil !== undefined) filter.occurredUntil = frozenDate(bounds.occurredUntil);
  if (bounds.sequenceNumberHigherThan !== undefined) {
    filter.sequenceNumberHigherThan = bounds.sequenceNumberHigherThan;
  }
  Object.freeze(filter);
  BUILT_FILTERS.add(filter);
  return filter;
}

function frozenDate(date: Date): Date {
  return Object.freeze(new Date(date.getTime()));
}

// ---------------------------------------------------------------------------------------------------------
// Validation and sanitising.

function checkedDate(date: unknown, method: string): Date {
  const problem = dateProblem(date);
  if (problem !== undefined) throw new InvalidFilterError(`${method}(): the date ${problem}`);
  return new Date((date as Date).getTime());
}

function checkedSequenceNumber(sequenceNumber: unknown): bigint {
  if (typeof sequenceNumber !== 'bigint') {
    throw new InvalidFilterError('withSequenceNumberHigherThan() needs a bigint');
  }
  if (sequenceNumber < 0n || sequenceNumber > MAX_SEQUENCE_NUMBER) {
    throw new InvalidFilterError(
      'withSequenceNumberHigherThan() needs a bigint between 0 and 9223372036854775807 (PostgreSQL bigint)',
    );
  }
  return sequenceNumber;
}

function sanitizeEventTypes(eventTypes: readonly unknown[], method: string): readonly string[] {
  if (eventTypes.length === 0) throw new InvalidFilterError(`${method}() needs at least one event type`);
  const kept: string[] = [];
  eventTypes.forEach((eventType, index) => {
    if (typeof eventType !== 'string') {
      throw new InvalidFilterError(`${method}(): event type #${index + 1} is not a string`);
    }
    const problem = eventType === '' ? undefined : eventTypeProblem(eventType);
    if (problem !== undefined)
      throw new InvalidFilterError(`${method}(): event type #${index + 1} ${problem}`);
    if (eventType !== '') kept.push(eventType);
  });
  kept.sort(compareCodeUnits);
  return Object.freeze(kept.filter((eventType, index) => index === 0 || eventType !== kept[index - 1]));
}

interface SortablePredicate {
  readonly predicate: Predicate;
  readonly canonicalValue: string;
}

function sanitizePredicates(predicates: readonly unknown[], method: string): readonly Predicate[] {
  if (predicates.length === 0) throw new InvalidFilterError(`${method}() needs at least one predicate`);
  const kept: SortablePredicate[] = [];
  predicates.forEach((candidate, index) => {
    if (
      typeof candidate !== 'object' ||
      candidate === null ||
      !('key' in candidate) ||
      !('value' in candidate)
    ) {
      throw new InvalidFilterError(
        `${method}(): predicate #${index + 1} is not a predicate; create it with P()`,
      );
    }
    const { key } = candidate;
    if (typeof key !== 'string') {
      throw new InvalidFilterError(`${method}(): predicate #${index + 1} has no string key`);
    }
    const keyProblem = textProblem(key);
    if (keyProblem !== undefined) {
      throw new InvalidFilterError(`${method}(): predicate key ${describeKey(key)} ${keyProblem}`);
    }
    // The value is checked even when the key is empty: a non-JSON value is a bug worth reporting.
    const value = copyJsonValue(candidate.value, (problem) => {
      throw new InvalidFilterError(`the value of predicate ${describeKey(key)} ${problem}`);
    });
    if (key !== '') kept.push({ predicate: P(key, value), canonicalValue: canonicalJson(value) });
  });
  kept.sort(
    (a, b) =>
      compareCodeUnits(a.predicate.key, b.predicate.key) ||
      compareCodeUnits(a.canonicalValue, b.canonicalValue),
  );
  const unique = kept.filter((entry, index) => {
    const previous = index === 0 ? undefined : kept[index - 1];
    return (
      previous?.predicate.key !== entry.predicate.key || previous.canonicalValue !== entry.canonicalValue
    );
  });
  return Object.freeze(unique.map((entry) => entry.predicate));
}

/** The key as a JSON string literal (so control characters are escaped), cut when long. */
function describeKey(key: string): string {
  return JSON.stringify(key.length > 64 ? `${key.slice(0, 64)}...` : key);
}
