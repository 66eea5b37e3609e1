import { buildEventFilter, type EventFilter, matchesFilter, P } from '@es/core';
import { expect } from 'vitest';
import {
  ADDED,
  appendLibrary,
  BOOK_1,
  BOOK_2,
  fixtureIndices,
  LENT,
  LIBRARY_EVENTS,
  libraryTime,
  READER_1,
  READER_2,
  REMOVED,
  RETURNED,
} from '../fixtures.js';
import type { ConformanceSuite, RegisterTest } from '../suite-context.js';

/**
 * The library events (see fixtures.ts), for reading the expectations below:
 *  1 Added    B1      2 Added    B2      3 Lent     B1 R1   4 Lent     B2 R2   5 Returned B1 R1
 *  6 Lent     B1 R2   7 Returned B2 R2   8 Removed  B2      9 Returned B1 R2
 * Event n occurred at libraryTime(n), one hour apart.
 */
interface MatrixCase {
  readonly title: string;
  /** Builds the filter; `at(n)` is the position of event n (for the sequence bound). */
  readonly filter: (at: (n: number) => bigint) => EventFilter;
  /** The fixture indices the query must return, in this order. */
  readonly expected: readonly number[];
}

const match = () => buildEventFilter().matching();
const t = libraryTime;
const ALL = [1, 2, 3, 4, 5, 6, 7, 8, 9];

const MATRIX: readonly MatrixCase[] = [
  { title: 'one event type', filter: () => match().anyEventTypeOf(LENT).finalize(), expected: [3, 4, 6] },
  {
    title: 'several event types',
    filter: () => match().anyEventTypeOf(ADDED, REMOVED).finalize(),
    expected: [1, 2, 8],
  },
  {
    title: 'one predicate',
    filter: () => match().allPredicatesOf(P('BookID', BOOK_1)).finalize(),
    expected: [1, 3, 5, 6, 9],
  },
  {
    title: 'all of several predicates (AND)',
    filter: () => match().allPredicatesOf(P('BookID', BOOK_1), P('ReaderID', READER_2)).finalize(),
    expected: [6, 9],
  },
  {
    title: 'any of several predicates (OR)',
    filter: () => match().anyPredicateOf(P('ReaderID', READER_1), P('BookID', BOOK_2)).finalize(),
    expected: [2, 3, 4, 5, 7, 8],
  },
  {
    title: 'one event type and one predicate',
    filter: () => match().anyEventTypeOf(LENT).andAllPredicatesOf(P('BookID', BOOK_1)).finalize(),
    expected: [3, 6],
  },
  {
    title: 'several event types and all of several predicates',
    filter: () =>
      match()
        .anyEventTypeOf(LENT, RETURNED)
        .andAllPredicatesOf(P('BookID', BOOK_1), P('ReaderID', READER_1))
        .finalize(),
    expected: [3, 5],
  },
  {
    title: 'several event types and any of several predicates',
    filter: () =>
      match()
        .anyEventTypeOf(RETURNED, REMOVED)
        .andAnyPredicateOf(P('BookID', BOOK_2), P('ReaderID', READER_1))
        .finalize(),
    expected: [5, 7, 8],
  },
  {
    title: 'predicates first, then event types',
    filter: () => match().allPredicatesOf(P('ReaderID', READER_2)).andAnyEventTypeOf(RETURNED).finalize(),
    expected: [7, 9],
  },
  {
    title: 'two items',
    filter: () =>
      match()
        .anyEventTypeOf(ADDED)
        .andAllPredicatesOf(P('BookID', BOOK_1))
        .orMatching()
        .anyEventTypeOf(REMOVED)
        .finalize(),
    expected: [1, 8],
  },
  {
    title: 'three overlapping items (each event once)',
    filter: () =>
      match()
        .allPredicatesOf(P('BookID', BOOK_1))
        .orMatching()
        .anyEventTypeOf(LENT)
        .orMatching()
        .anyPredicateOf(P('ReaderID', READER_2))
        .andAnyEventTypeOf(RETURNED)
        .finalize(),
    expected: [1, 3, 4, 5, 6, 7, 9],
  },
  {
    title: 'event types and occurredFrom (inclusive)',
    filter: () => match().anyEventTypeOf(LENT, RETURNED).occurredFrom(t(5)).finalize(),
    expected: [5, 6, 7, 9],
  },
  {
    title: 'a predicate and occurredUntil (inclusive)',
    filter: () => match().allPredicatesOf(P('BookID', BOOK_2)).occurredUntil(t(4)).finalize(),
    expected: [2, 4],
  },
  {
    title: 'event types and both time bounds',
    filter: () => match().anyEventTypeOf(LENT, RETURNED).occurredFrom(t(4)).andOccurredUntil(t(7)).finalize(),
    expected: [4, 5, 6, 7],
  },
  {
    title: 'two items and both time bounds',
    filter: () =>
      match()
        .anyEventTypeOf(LENT)
        .andAllPredicatesOf(P('ReaderID', READER_2))
        .orMatching()
        .anyEventTypeOf(ADDED)
        .occurredFrom(t(2))
        .andOccurredUntil(t(6))
        .finalize(),
    expected: [2, 4, 6],
  },
  {
    title: 'a predicate and the sequence bound (exclusive)',
    filter: (at) =>
      match().allPredicatesOf(P('BookID', BOOK_1)).withSequenceNumberHigherThan(at(5)).finalize(),
    expected: [6, 9],
  },
  { title: 'matchingAnyEvent', filter: () => buildEventFilter().matchingAnyEvent(), expected: ALL },
  {
    title: 'occurredFrom without items',
    filter: () => buildEventFilter().occurredFrom(t(8)).finalize(),
    expected: [8, 9],
  },
  {
    title: 'occurredUntil without items',
    filter: () => buildEventFilter().occurredUntil(t(2)).finalize(),
    expected: [1, 2],
  },
  {
    title: 'both time bounds without items',
    filter: () => buildEventFilter().occurredFrom(t(3)).andOccurredUntil(t(5)).finalize(),
    expected: [3, 4, 5],
  },
  {
    title: 'both time bounds on one instant',
    filter: () => match().anyEventTypeOf(RETURNED).occurredFrom(t(5)).andOccurredUntil(t(5)).finalize(),
    expected: [5],
  },
  {
    title: 'the sequence bound without items',
    filter: (at) => buildEventFilter().withSequenceNumberHigherThan(at(7)).finalize(),
    expected: [8, 9],
  },
  {
    title: 'the sequence bound at 0',
    filter: () => buildEventFilter().withSequenceNumberHigherThan(0n).finalize(),
    expected: ALL,
  },
  {
    title: 'an event type nobody appended',
    filter: () => match().anyEventTypeOf('BookCopyLost').finalize(),
    expected: [],
  },
  {
    title: 'an event type and a predicate that exclude each other',
    filter: () => match().anyEventTypeOf(REMOVED).andAllPredicatesOf(P('BookID', BOOK_1)).finalize(),
    expected: [],
  },
  {
    title: 'a predicate value of another JSON type',
    filter: () =>
      match()
        .anyPredicateOf(P('BookID', 1), P('BookID', [BOOK_1]), P('BookID', null))
        .finalize(),
    expected: [],
  },
  {
    title: 'a time window after the last event',
    filter: () =>
      buildEventFilter()
        .occurredFrom(new Date(t(9).getTime() + 1))
        .finalize(),
    expected: [],
  },
  {
    title: 'the sequence bound at the last position',
    filter: (at) => match().anyEventTypeOf(RETURNED).withSequenceNumberHigherThan(at(9)).finalize(),
    expected: [],
  },
];

/** SPEC §3.3: the query matrix over the nine library events, cross-checked with `matchesFilter`. */
export function queryMatrix<H>(suite: ConformanceSuite<H>, test: RegisterTest): void {
  for (const { title, filter: build, expected } of MATRIX) {
    test(`${title} -> [${expected.join(', ')}]`, async () => {
      const { store } = await suite.newStore('single');
      const positions = await appendLibrary(store);
      const at = (n: number): bigint => {
        const position = positions[n - 1];
        if (position === undefined) throw new Error(`no library event ${n}`);
        return position;
      };
      const filter = build(at);

      // The oracle agrees with the expectation written above (so the expectation itself is checked).
      const oracle = LIBRARY_EVENTS.filter((event) =>
        matchesFilter(filter, { ...event, sequenceNumber: at(event.index) }),
      ).map((event) => event.index);
      expect(oracle, 'matchesFilter disagrees with the expected list').toEqual(expected);

      const result = await store.query(undefined, filter);
      expect(fixtureIndices(positions, result.events)).toEqual(expected);
      expect(result.events.map((event) => event.type)).toEqual(
        expected.map((n) => LIBRARY_EVENTS[n - 1]?.type),
      );
      expect(result.events.map((event) => event.payload)).toEqual(
        expected.map((n) => LIBRARY_EVENTS[n - 1]?.payload),
      );
      expect(result.events.map((event) => event.occurredAt.getTime())).toEqual(
        expected.map((n) => LIBRARY_EVENTS[n - 1]?.occurredAt.getTime()),
      );
      const last = expected.at(-1);
      expect(result.maxSequenceNumber).toBe(last === undefined ? 0n : at(last));
    });
  }
}
