import { type EventFilter, withEventualConsistency, withStrongConsistency } from '@es/core';
import { expect } from 'vitest';
import { expectFailure } from '../expectations.js';
import { appendLibrary, BOOK_1, bookEvent, fixtureIndices, LENT, READER_2, RETURNED } from '../fixtures.js';
import type { ConformanceSuite, RegisterTest } from '../suite-context.js';

/**
 * Filters that JavaScript callers write by hand (plain objects of the `EventFilter` shape) are checked as
 * strictly as built ones, before any statement: a predicate without a JSON value would otherwise be
 * encoded as `{}`, match every event and lock nothing. A valid hand-made filter works like a built one.
 */

const item = (eventTypes: unknown[], predicates: unknown[], allPredicatesMustMatch: unknown = true) => ({
  eventTypes,
  predicates,
  allPredicatesMustMatch,
});

const REFUSED: readonly [string, unknown][] = [
  ['a predicate whose value is undefined', { items: [item([], [{ key: 'BookID', value: undefined }])] }],
  ['a predicate without a value', { items: [item([], [{ key: 'BookID' }])] }],
  [
    'a predicate value that is not JSON (a function)',
    { items: [item([], [{ key: 'BookID', value: () => 1 }])] },
  ],
  ['a predicate value that is NaN', { items: [item([], [{ key: 'n', value: Number.NaN }])] }],
  ['an event type that is not a string', { items: [item([42], [])] }],
  ['an item with nothing left after sanitising', { items: [item([''], [{ key: '', value: 'x' }])] }],
  ['an item without the match flag', { items: [item([LENT], [], 'yes')] }],
  [
    'both a time bound and a sequence bound',
    { items: [], occurredFrom: new Date(0), sequenceNumberHigherThan: 1n },
  ],
  ['a time bound that is not a Date', { items: [], occurredUntil: '2024-01-01' }],
  ['a sequence bound that is a number', { items: [], sequenceNumberHigherThan: 5 }],
  ['items that are not an array', { items: 'all' }],
];

export function handMadeFilters<H>(suite: ConformanceSuite<H>, test: RegisterTest): void {
  test('refuses malformed hand-made filters with InvalidFilterError before any statement, query and append alike', async () => {
    const { store, table, reports } = await suite.newStore('replicated');
    for (const [what, filter] of REFUSED) {
      for (const call of [
        () => store.query(withStrongConsistency(), filter as EventFilter),
        () => store.query(withEventualConsistency(), filter as EventFilter),
        () =>
          store.append(
            withStrongConsistency(),
            filter as EventFilter,
            0n,
            bookEvent(LENT, { BookID: BOOK_1 }),
          ),
      ]) {
        const error = await expectFailure(call, 'INVALID_FILTER');
        expect(error.message, what).toMatch(/^invalid filter: /);
      }
    }
    expect(
      reports.filter((report) => report.operation !== 'eventstore.migrate'),
      'no call reached a server',
    ).toEqual([]);
    expect(await suite.raw.count(table)).toBe(0);
  });

  test('a valid hand-made filter is sanitised and matches exactly what the built one does', async () => {
    const { store } = await suite.newStore('single');
    const positions = await appendLibrary(store);
    const handMade = {
      items: [
        item(
          [RETURNED, LENT, RETURNED],
          [
            { key: 'ReaderID', value: READER_2 },
            { key: 'BookID', value: BOOK_1 },
          ],
        ),
      ],
    };
    const { events, maxSequenceNumber } = await store.query(withStrongConsistency(), handMade as EventFilter);
    expect(fixtureIndices(positions, events)).toEqual([6, 9]);
    const appended = await store.append(
      withStrongConsistency(),
      handMade as EventFilter,
      maxSequenceNumber,
      bookEvent(LENT, { BookID: BOOK_1, ReaderID: READER_2 }),
    );
    expect(appended.sequenceNumbers).toHaveLength(1);
    // The same hand-made filter with the old max is now stale.
    await expectFailure(
      () =>
        store.append(
          withStrongConsistency(),
          handMade as EventFilter,
          maxSequenceNumber,
          bookEvent(LENT, { BookID: BOOK_1, ReaderID: READER_2 }),
        ),
      'CONCURRENCY_CONFLICT',
    );
  });
}
