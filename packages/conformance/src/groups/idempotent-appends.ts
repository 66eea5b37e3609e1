import { randomUUID } from 'node:crypto';
import {
  buildEventFilter,
  buildStorableEvent,
  type EventFilter,
  P,
  type StorableEvent,
  withStrongConsistency,
} from '@es/core';
import { expect } from 'vitest';
import { expectFailure } from '../expectations.js';
import { ADDED, BOOK_1, BOOK_2, LENT, READER_1 } from '../fixtures.js';
import type { ConformanceSuite, RegisterTest } from '../suite-context.js';

/** SPEC §5 (idempotent appends): event ids, an unknown outcome, and the retry that resolves it. */

export const book1 = buildEventFilter().matching().allPredicatesOf(P('BookID', BOOK_1)).finalize();
export const reader1 = buildEventFilter().matching().allPredicatesOf(P('ReaderID', READER_1)).finalize();

/** Events with fresh ids: a loan of BOOK_1 and one of BOOK_2, both to READER_1. */
export const loans = (): StorableEvent[] =>
  [BOOK_1, BOOK_2].map((BookID) =>
    buildStorableEvent({
      type: LENT,
      occurredAt: new Date(Date.UTC(2024, 5, 1, 12)),
      payload: { BookID, ReaderID: READER_1 },
      id: randomUUID(),
    }),
  );

/** The positions of the rows holding `ids`, read by raw SQL, in the ids' order (undefined if missing). */
export async function storedAt<H>(
  suite: ConformanceSuite<H>,
  table: string,
  ids: readonly (string | undefined)[],
): Promise<(bigint | undefined)[]> {
  const rows = await suite.raw.query<{ id: string; position: string }>(
    `SELECT id::text AS id, sequence_number::text AS position FROM ${table} WHERE id = ANY ($1::uuid[])`,
    [ids],
  );
  return ids.map((id) => rows.find((row) => row.id === id)?.position).map((p) => (p ? BigInt(p) : undefined));
}

export function idempotentAppends<H>(suite: ConformanceSuite<H>, test: RegisterTest): void {
  test('events keep their ids: stored, and returned by strong and eventual reads', async () => {
    const { store, table } = await suite.newStore('replicated');
    const events = loans();
    const { sequenceNumbers } = await store.append(undefined, reader1, 0n, ...events);
    expect(
      await storedAt(
        suite,
        table,
        events.map((event) => event.id),
      ),
    ).toEqual(sequenceNumbers);
    expect((await store.query(withStrongConsistency(), reader1)).events.map((event) => event.id)).toEqual(
      events.map((event) => event.id),
    );
    await suite.cluster.waitForReplay();
    expect((await store.query(undefined, reader1)).events.map((event) => event.id)).toEqual(
      events.map((event) => event.id),
    );
  });

  for (const [what, filter] of [
    ['inside', reader1],
    ['outside', book1],
  ] as const) {
    test(`a retry of a committed append whose events fall ${what} its filter returns the same positions and stores nothing`, async () => {
      const { store, table } = await suite.newStore('single');
      const events = filter === book1 ? loans().slice(1) : loans();
      const first = await store.append(undefined, filter, 0n, ...events);
      const again = await store.append(undefined, filter, 0n, ...events);
      expect(again.sequenceNumbers).toEqual(first.sequenceNumbers);
      expect(await suite.raw.count(table)).toBe(events.length);
    });
  }

  test('concurrent retries of one append: it is stored once, and every call gets its positions', async () => {
    const { store, table } = await suite.newStore('single');
    const events = loans();
    const results = await Promise.all(
      Array.from({ length: 8 }, () => store.append(undefined, reader1, 0n, ...events)),
    );
    const stored = await storedAt(
      suite,
      table,
      events.map((event) => event.id),
    );
    for (const result of results) expect(result.sequenceNumbers).toEqual(stored);
    expect(await suite.raw.count(table)).toBe(events.length);
  });

  test('ids stored by another append (in part, or in another order): DuplicateEventIdError, nothing inserted', async () => {
    const { store, table } = await suite.newStore('single');
    const [first, second] = loans() as [StorableEvent, StorableEvent];
    await store.append(undefined, reader1, 0n, first, second);
    const fresh = loans()[0] as StorableEvent;
    const attempts: [EventFilter, StorableEvent[]][] = [
      [book1, [first, fresh]],
      [reader1, [second, first]],
    ];
    for (const [filter, events] of attempts) {
      const error = await expectFailure(
        () => store.append(undefined, filter, 0n, ...events),
        'DUPLICATE_EVENT_ID',
      );
      expect(error.retryable).toBe(false);
    }
    expect(await suite.raw.count(table)).toBe(2);
    // Invalid ids never reach the database.
    await expectFailure(
      () =>
        store.append(
          undefined,
          book1,
          0n,
          buildStorableEvent({ type: ADDED, occurredAt: new Date(), payload: { BookID: BOOK_1 } }),
          fresh,
        ),
      'INVALID_EVENT',
    );
    expect(await suite.raw.count(table)).toBe(2);
  });
}
