import type { EventFilter } from './filter.js';

/**
 * Every filter `buildEventFilter()` finalized: the store trusts these and checks any other object in
 * full (see filter-check.ts). Internal: not exported from the package, so nothing else can join it.
 */
export const BUILT_FILTERS: WeakSet<EventFilter> = new WeakSet();
