import { BUILT_FILTERS } from './built-filters.js';
import { InvalidFilterError } from './errors.js';
import type { EventFilter, Predicate } from './filter.js';
import { buildEventFilter, type CompletedFilterItemBuilder } from './filter-builder.js';

/**
 * The filter a store call uses. A filter `buildEventFilter()` finalized is used as it is; any other
 * object (a JavaScript caller's hand-made filter, a filter from another copy of this package) is built
 * again through the builder, so it is validated and sanitised exactly as a built one, or refused with
 * `InvalidFilterError`: a predicate value that is not JSON, an item left empty, a time bound together
 * with the sequence bound, limits.
 */
export function checkFilter(filter: unknown): EventFilter {
  if (BUILT_FILTERS.has(filter as EventFilter)) return filter as EventFilter;
  const candidate = filter as Partial<Record<keyof EventFilter, unknown>> | null;
  if (typeof candidate !== 'object' || candidate === null || !Array.isArray(candidate.items)) {
    throw new InvalidFilterError('expected a filter built with buildEventFilter()');
  }
  const { items, occurredFrom: from, occurredUntil: until, sequenceNumberHigherThan: after } = candidate;
  if (after !== undefined && (from !== undefined || until !== undefined)) {
    throw new InvalidFilterError('a filter has either time bounds or a sequence bound, not both');
  }
  let completed: CompletedFilterItemBuilder | undefined;
  for (const [index, item] of items.entries()) {
    const {
      eventTypes: types,
      predicates,
      allPredicatesMustMatch: all,
    } = (item ?? {}) as Record<string, unknown>;
    if (!Array.isArray(types) || !Array.isArray(predicates) || typeof all !== 'boolean') {
      throw new InvalidFilterError(
        `item #${index + 1} needs eventTypes and predicates arrays and a boolean allPredicatesMustMatch`,
      );
    }
    const start = completed ? completed.orMatching() : buildEventFilter().matching();
    const list = predicates as [Predicate, ...Predicate[]];
    if (types.length > 0) {
      const typed = start.anyEventTypeOf(...(types as [string, ...string[]]));
      if (predicates.length === 0) completed = typed;
      else completed = all ? typed.andAllPredicatesOf(...list) : typed.andAnyPredicateOf(...list);
    } else if (predicates.length > 0) {
      completed = all ? start.allPredicatesOf(...list) : start.anyPredicateOf(...list);
    } else {
      throw new InvalidFilterError(`item #${index + 1} has no event types and no predicates`);
    }
  }
  const bounded = completed ?? buildEventFilter();
  if (after !== undefined) return bounded.withSequenceNumberHigherThan(after as bigint).finalize();
  if (from !== undefined) {
    const lower = bounded.occurredFrom(from as Date);
    return until === undefined ? lower.finalize() : lower.andOccurredUntil(until as Date).finalize();
  }
  if (until !== undefined) return bounded.occurredUntil(until as Date).finalize();
  return completed ? completed.finalize() : buildEventFilter().matchingAnyEvent();
}
