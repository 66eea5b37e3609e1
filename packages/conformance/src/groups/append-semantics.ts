import { buildEventFilter, P, withStrongConsistency } from '@es/core';
import { expect } from 'vitest';
import { conflictFields, expectFailure, positionsOf } from '../expectations.js';
import { ADDED, BOOK_1, BOOK_2, bookEvent, LENT, READER_1, RETURNED } from '../fixtures.js';
import type { ConformanceSuite, RegisterTest } from '../suite-context.js';

/** SPEC §3.5: the guarded append, one writer at a time. */
export function appendSemantics<H>(suite: ConformanceSuite<H>, test: RegisterTest): void {
  const book1 = buildEventFilter().matching().allPredicatesOf(P('BookID', BOOK_1)).finalize();
  const book2 = buildEventFilter().matching().allPredicatesOf(P('BookID', BOOK_2)).finalize();

  test('an append on an empty boundary with expected 0 succeeds and returns its position', async () => {
    const { store, table } = await suite.newStore('single');
    // Another boundary is not empty: only the filter's own events count.
    await store.append(undefined, book2, 0n, bookEvent(ADDED, { BookID: BOOK_2 }));
    const { sequenceNumbers } = await store.append(
      undefined,
      book1,
      0n,
      bookEvent(ADDED, { BookID: BOOK_1 }),
    );
    expect(sequenceNumbers).toHaveLength(1);
    const stored = await suite.raw.events(table);
    expect(stored.map((event) => event.sequenceNumber)).toContain(sequenceNumbers[0]);
    expect(stored.find((event) => event.sequenceNumber === sequenceNumbers[0])?.payload).toEqual({
      BookID: BOOK_1,
    });
    expect(stored).toHaveLength(2);
  });

  test('an append with the max read from a query succeeds', async () => {
    const { store, table } = await suite.newStore('single');
    await store.append(undefined, book1, 0n, bookEvent(ADDED, { BookID: BOOK_1 }));
    await store.append(undefined, book2, 0n, bookEvent(ADDED, { BookID: BOOK_2 }));
    const read = await store.query(withStrongConsistency(), book1);
    expect(read.events).toHaveLength(1);
    const { sequenceNumbers } = await store.append(
      withStrongConsistency(),
      book1,
      read.maxSequenceNumber,
      bookEvent(LENT, { BookID: BOOK_1, ReaderID: READER_1 }),
    );
    expect(sequenceNumbers[0]).toBeGreaterThan(read.maxSequenceNumber);
    expect(positionsOf(await store.query(undefined, book1))).toEqual([
      read.maxSequenceNumber,
      ...sequenceNumbers,
    ]);
    expect(await suite.raw.count(table)).toBe(3);
  });

  test('a stale expected max: ConcurrencyConflictError with expected/actual, nothing inserted (single and multi-event)', async () => {
    const { store, table, reports } = await suite.newStore('single');
    const first = await store.append(undefined, book1, 0n, bookEvent(ADDED, { BookID: BOOK_1 }));
    const actual = first.sequenceNumbers[0];
    for (const events of [
      [bookEvent(LENT, { BookID: BOOK_1, ReaderID: READER_1 })],
      [
        bookEvent(LENT, { BookID: BOOK_1, ReaderID: READER_1 }),
        bookEvent(RETURNED, { BookID: BOOK_1, ReaderID: READER_1 }),
      ],
    ]) {
      const conflict = await expectFailure(
        () => store.append(undefined, book1, 0n, ...events),
        'CONCURRENCY_CONFLICT',
      );
      expect(conflictFields(conflict)).toEqual({ expected: 0n, actual });
      expect(await suite.raw.count(table)).toBe(1);
    }
    expect(reports.at(-1)).toMatchObject({
      operation: 'eventstore.append',
      outcome: 'conflict',
      server: 'primary',
    });
  });

  test('an expected max higher than the real one conflicts too; nothing inserted', async () => {
    const { store, table } = await suite.newStore('single');
    const { sequenceNumbers } = await store.append(
      undefined,
      book1,
      0n,
      bookEvent(ADDED, { BookID: BOOK_1 }),
    );
    const real = sequenceNumbers[0] ?? 0n;
    for (const expected of [real + 1n, real + 1000n]) {
      const conflict = await expectFailure(
        () => store.append(undefined, book1, expected, bookEvent(LENT, { BookID: BOOK_1 })),
        'CONCURRENCY_CONFLICT',
      );
      expect(conflictFields(conflict)).toEqual({ expected, actual: real });
    }
    // On an empty boundary, any expected other than 0 conflicts.
    await expectFailure(
      () => store.append(undefined, book2, real, bookEvent(ADDED, { BookID: BOOK_2 })),
      'CONCURRENCY_CONFLICT',
    );
    expect(await suite.raw.count(table)).toBe(1);
  });

  test('a multi-event append keeps argument order with ascending positions (returned and stored agree)', async () => {
    const { store, table } = await suite.newStore('single');
    const events = [ADDED, LENT, RETURNED, LENT, RETURNED].map((type, index) =>
      bookEvent(type, { BookID: BOOK_1, step: index }, new Date(Date.UTC(2024, 0, 1, 12, 0, 0, 5 - index))),
    );
    const { sequenceNumbers } = await store.append(undefined, book1, 0n, ...events);
    expect(sequenceNumbers).toHaveLength(5);
    for (let index = 1; index < sequenceNumbers.length; index++) {
      expect(sequenceNumbers[index]).toBeGreaterThan(sequenceNumbers[index - 1] ?? 0n);
    }
    const stored = await suite.raw.events(table);
    expect(stored.map((event) => event.sequenceNumber)).toEqual(sequenceNumbers);
    expect(stored.map((event) => event.payload.step)).toEqual([0, 1, 2, 3, 4]);
    expect(stored.map((event) => event.type)).toEqual([ADDED, LENT, RETURNED, LENT, RETURNED]);
    const read = await store.query(undefined, book1);
    expect(positionsOf(read)).toEqual(sequenceNumbers);
    expect(read.maxSequenceNumber).toBe(sequenceNumbers[4]);
  });

  test('disjoint boundaries never conflict, sequentially or concurrently', async () => {
    const { store, table } = await suite.newStore('single');
    await store.append(undefined, book1, 0n, bookEvent(ADDED, { BookID: BOOK_1 }));
    await store.append(undefined, book2, 0n, bookEvent(ADDED, { BookID: BOOK_2 }));
    const books = Array.from({ length: 12 }, (_, index) => `book-disjoint-${index}`);
    const results = await Promise.allSettled(
      books.map((bookId) =>
        store.append(
          undefined,
          buildEventFilter().matching().allPredicatesOf(P('BookID', bookId)).finalize(),
          0n,
          bookEvent(ADDED, { BookID: bookId }),
        ),
      ),
    );
    expect(results.filter((result) => result.status === 'rejected')).toEqual([]);
    expect(await suite.raw.count(table)).toBe(2 + books.length);
  });

  test('an append of zero events is a no-op that returns no positions', async () => {
    const { store, table } = await suite.newStore('single');
    expect((await store.append(undefined, book1, 0n)).sequenceNumbers).toEqual([]);
    await store.append(undefined, book1, 0n, bookEvent(ADDED, { BookID: BOOK_1 }));
    const max = (await store.query(undefined, book1)).maxSequenceNumber;
    expect((await store.append(undefined, book1, max)).sequenceNumbers).toEqual([]);
    expect(await suite.raw.count(table)).toBe(1);
  });

  test('the guard stays correct when the same append shape runs 12 times in a row (no generic-plan trap)', async () => {
    const { store, table } = await suite.newStore('single');
    // Unrelated events, so that a wrong plan or a wrong guard would have something to get wrong.
    const others = Array.from({ length: 50 }, (_, index) => bookEvent(ADDED, { BookID: `other-${index}` }));
    await store.append(undefined, buildEventFilter().matchingAnyEvent(), 0n, ...others);
    const filter = buildEventFilter()
      .matching()
      .anyEventTypeOf(LENT, RETURNED)
      .andAllPredicatesOf(P('BookID', BOOK_1))
      .finalize();
    let expected = 0n;
    const appended: bigint[] = [];
    for (let round = 0; round < 12; round++) {
      const type = round % 2 === 0 ? LENT : RETURNED;
      const { sequenceNumbers } = await store.append(
        undefined,
        filter,
        expected,
        bookEvent(type, { BookID: BOOK_1, round }),
      );
      const stale = await expectFailure(
        () =>
          store.append(undefined, filter, expected, bookEvent(type, { BookID: BOOK_1, round, stale: true })),
        'CONCURRENCY_CONFLICT',
      );
      expect(conflictFields(stale)).toEqual({ expected, actual: sequenceNumbers[0] });
      appended.push(...sequenceNumbers);
      const read = await store.query(undefined, filter);
      expect(positionsOf(read)).toEqual(appended);
      expected = read.maxSequenceNumber;
    }
    expect(await suite.raw.count(table)).toBe(50 + 12);
  });
}
