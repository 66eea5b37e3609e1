import { InvalidEventError } from './errors.js';
import type { EventFilter } from './filter.js';
import { ESCALATE_AFTER, eventKeys, filterKeys } from './lock-keys.js';
import type { StorableEvent } from './storable-event.js';

/** One append, with the lock keys it needs: what the store batches and the append statement sends. */
export interface AppendRequest {
  readonly filter: EventFilter;
  readonly expected: bigint;
  readonly events: readonly StorableEvent[];
  /** The filter's keys: the guard takes them exclusively. */
  readonly exclusiveKeys: ReadonlySet<string>;
  /** The events' distinct keys, taken shared; empty when the append escalates. */
  readonly sharedKeys: ReadonlySet<string>;
  /** More than ESCALATE_AFTER distinct event keys: the escalation lock, exclusive, instead of them. */
  readonly escalate: boolean;
  /** Every event has an id (ids are all or nothing): a retry of this append is recognised. */
  readonly identified: boolean;
}

/**
 * Builds the request of one append, computing its lock keys. Event ids are all or nothing within an
 * append, and distinct: only then is a retry of it recognisable (`InvalidEventError` otherwise).
 */
export function appendRequest(
  filter: EventFilter,
  expected: bigint,
  events: readonly StorableEvent[],
): AppendRequest {
  const ids = new Set(events.flatMap((event) => (event.id === undefined ? [] : [event.id])));
  if (ids.size > 0 && events.some((event) => event.id === undefined)) {
    throw new InvalidEventError('append: either every event of an append has an id or none has');
  }
  if (ids.size > 0 && ids.size < events.length) {
    throw new InvalidEventError('append: two events of the append have the same id');
  }
  const shared = new Set<string>();
  for (const event of events) for (const key of eventKeys(event)) shared.add(key);
  const escalate = shared.size > ESCALATE_AFTER;
  return {
    filter,
    expected,
    events,
    exclusiveKeys: new Set(filterKeys(filter)),
    sharedKeys: escalate ? new Set() : shared,
    escalate,
    identified: ids.size > 0,
  };
}

/**
 * Whether `request` can join a batch holding `exclusive` and `shared` keys: no key of its filter is a
 * key of the batch, and no key of its events is a key of a filter in the batch. Then no event of one
 * append can match the filter of another, and every guard of the batch can be computed before any insert.
 * An escalating append always runs alone.
 */
export function fitsBatch(
  request: AppendRequest,
  exclusive: ReadonlySet<string>,
  shared: ReadonlySet<string>,
): boolean {
  if (request.escalate) return false;
  for (const key of request.exclusiveKeys) if (exclusive.has(key) || shared.has(key)) return false;
  for (const key of request.sharedKeys) if (exclusive.has(key)) return false;
  return true;
}
