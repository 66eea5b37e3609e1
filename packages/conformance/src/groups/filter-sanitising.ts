import { buildEventFilter, type EventFilter, P } from '@es/core';
import { expect } from 'vitest';
import { expectFailure } from '../expectations.js';
import {
  ADDED,
  appendLibrary,
  BOOK_1,
  BOOK_2,
  bookEvent,
  fixtureIndices,
  LENT,
  READER_1,
  READER_2,
  RETURNED,
} from '../fixtures.js';
import type { ConformanceSuite, RegisterTest } from '../suite-context.js';

/** A filter written sloppily, its tidy equivalent, and the library events both must return. */
interface EquivalentFilters {
  readonly title: string;
  readonly sloppy: () => EventFilter;
  readonly tidy: () => EventFilter;
  readonly expected: readonly number[];
}

const match = () => buildEventFilter().matching();

const CASES: readonly EquivalentFilters[] = [
  {
    title: 'duplicate and unsorted event types',
    sloppy: () => match().anyEventTypeOf(RETURNED, LENT, RETURNED, LENT).finalize(),
    tidy: () => match().anyEventTypeOf(LENT, RETURNED).finalize(),
    expected: [3, 4, 5, 6, 7, 9],
  },
  {
    title: 'duplicate and unsorted any-of predicates',
    sloppy: () =>
      match()
        .anyPredicateOf(P('ReaderID', READER_2), P('BookID', BOOK_2), P('ReaderID', READER_2))
        .finalize(),
    tidy: () => match().anyPredicateOf(P('BookID', BOOK_2), P('ReaderID', READER_2)).finalize(),
    expected: [2, 4, 6, 7, 8, 9],
  },
  {
    title: 'duplicate and unsorted all-of predicates, with event types',
    sloppy: () =>
      match()
        .anyEventTypeOf(RETURNED, LENT, LENT)
        .andAllPredicatesOf(P('ReaderID', READER_2), P('BookID', BOOK_1), P('ReaderID', READER_2))
        .finalize(),
    tidy: () =>
      match()
        .anyEventTypeOf(LENT, RETURNED)
        .andAllPredicatesOf(P('BookID', BOOK_1), P('ReaderID', READER_2))
        .finalize(),
    expected: [6, 9],
  },
  {
    title: 'empty event types are dropped',
    sloppy: () => match().anyEventTypeOf('', LENT, '').finalize(),
    tidy: () => match().anyEventTypeOf(LENT).finalize(),
    expected: [3, 4, 6],
  },
  {
    title: 'an all-of predicate with an empty key is dropped (it would otherwise match nothing)',
    sloppy: () =>
      match().allPredicatesOf(P('', BOOK_1), P('BookID', BOOK_1), P('ReaderID', READER_2)).finalize(),
    tidy: () => match().allPredicatesOf(P('BookID', BOOK_1), P('ReaderID', READER_2)).finalize(),
    expected: [6, 9],
  },
  {
    title: 'an any-of predicate with an empty key is dropped',
    sloppy: () => match().anyPredicateOf(P('', READER_2), P('ReaderID', READER_1)).finalize(),
    tidy: () => match().anyPredicateOf(P('ReaderID', READER_1)).finalize(),
    expected: [3, 5],
  },
  {
    title: 'event types that are all empty leave an item of predicates only (any type)',
    sloppy: () => match().anyEventTypeOf('', '').andAllPredicatesOf(P('BookID', BOOK_2)).finalize(),
    tidy: () => match().allPredicatesOf(P('BookID', BOOK_2)).finalize(),
    expected: [2, 4, 7, 8],
  },
  {
    title: 'items repeated in another order',
    sloppy: () =>
      match()
        .anyEventTypeOf(ADDED)
        .orMatching()
        .allPredicatesOf(P('ReaderID', READER_1))
        .orMatching()
        .anyEventTypeOf(ADDED)
        .finalize(),
    tidy: () =>
      match().allPredicatesOf(P('ReaderID', READER_1)).orMatching().anyEventTypeOf(ADDED).finalize(),
    expected: [1, 2, 3, 5],
  },
];

/** SPEC §3.2: sanitising, observed through the store. */
export function filterSanitising<H>(suite: ConformanceSuite<H>, test: RegisterTest): void {
  for (const { title, sloppy, tidy, expected } of CASES) {
    test(`${title}: the same events as the tidy filter`, async () => {
      const { store } = await suite.newStore('single');
      const positions = await appendLibrary(store);
      const fromSloppy = await store.query(undefined, sloppy());
      const fromTidy = await store.query(undefined, tidy());
      expect(fixtureIndices(positions, fromSloppy.events)).toEqual(expected);
      expect(fixtureIndices(positions, fromTidy.events)).toEqual(expected);
      expect(fromSloppy.maxSequenceNumber).toBe(positions[(expected.at(-1) ?? 0) - 1]);
      expect(fromSloppy.maxSequenceNumber).toBe(fromTidy.maxSequenceNumber);
    });
  }

  test('an item left with nothing after sanitising is an InvalidFilterError from the builder; nothing is queried', async () => {
    const { store, table, reports } = await suite.newStore('single');
    await appendLibrary(store);
    const before = reports.length;
    const emptyItems: (() => EventFilter)[] = [
      () => match().anyEventTypeOf('').finalize(),
      () => match().anyEventTypeOf('', '').finalize(),
      () => match().anyPredicateOf(P('', BOOK_1)).finalize(),
      () => match().allPredicatesOf(P('', BOOK_1), P('', BOOK_2)).finalize(),
      () => match().anyEventTypeOf(LENT).orMatching().anyEventTypeOf('').finalize(),
      () => match().anyEventTypeOf('').orMatching().anyEventTypeOf(LENT).finalize(),
      () => match().anyEventTypeOf('').occurredFrom(new Date(0)).finalize(),
      () => match().anyEventTypeOf('').withSequenceNumberHigherThan(0n).finalize(),
    ];
    for (const build of emptyItems) {
      await expectFailure(() => build(), 'INVALID_FILTER');
      await expectFailure(() => store.query(undefined, build()), 'INVALID_FILTER');
      await expectFailure(
        () => store.append(undefined, build(), 9n, bookEvent(LENT, { BookID: BOOK_1 })),
        'INVALID_FILTER',
      );
    }
    // The builder refused before the store was called: no operation was reported, nothing was written.
    expect(reports.slice(before)).toEqual([]);
    expect(await suite.raw.count(table)).toBe(9);
  });
}
