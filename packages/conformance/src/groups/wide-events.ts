import { buildEventFilter, buildStorableEvent, P, withStrongConsistency } from '@es/core';
import { expect } from 'vitest';
import { expectFailure, track } from '../expectations.js';
import { LENT } from '../fixtures.js';
import { waitUntil } from '../raw-database.js';
import type { ConformanceSuite, RegisterTest } from '../suite-context.js';

/**
 * Events with many top-level payload fields are ordinary (20-60 fields). Each field is a lock key, and a
 * write with too many keys takes one coarse lock instead; that must not make such an append wait for
 * writers of other boundaries (a coarse lock shared with every writer would serialise the whole store).
 */

/** An event on `book` with `fields` top-level payload fields in all (BookID among them). */
const wideEvent = (book: string, fields: number) =>
  buildStorableEvent({
    type: LENT,
    occurredAt: new Date(),
    payload: Object.fromEntries([
      ['BookID', book],
      ...Array.from({ length: fields - 1 }, (_, index) => [`field${index}`, `${book}-${index}`]),
    ]),
  });

export function wideEvents<H>(suite: ConformanceSuite<H>, test: RegisterTest): void {
  for (const fields of [63, 200]) {
    test(`an append of a ${fields}-field event does not wait for a writer of another boundary, and is guarded`, async () => {
      const { store, table } = await suite.newStore('single');
      const boundary = (book: string) =>
        buildEventFilter().matching().allPredicatesOf(P('BookID', book)).finalize();
      // Another service's writer, in flight on boundary A.
      const writer = await suite.raw.begin();
      try {
        await writer.query(
          `INSERT INTO ${table} (event_type, occurred_at, payload) VALUES ('${LENT}', now(), '{"BookID": "wide-a"}')`,
        );
        const append = track(
          store.append(withStrongConsistency(), boundary('wide-b'), 0n, wideEvent('wide-b', fields)),
        );
        await waitUntil(
          async () => append.settled() || (await suite.raw.waitingFor(writer.pid)).length > 0,
          'the append has finished or waits for the other writer',
        );
        expect(append.settled(), 'the append finished while the other writer was still open').toBe(true);
        await append.promise;
      } finally {
        await writer.rollback();
      }
      // Guarded like any append: a decision on one of its fields sees it, and a stale one conflicts.
      const field = buildEventFilter().matching().allPredicatesOf(P('field40', 'wide-b-40')).finalize();
      const { events, maxSequenceNumber } = await store.query(withStrongConsistency(), field);
      expect(events).toHaveLength(1);
      expect(Object.keys(events[0]?.payload ?? {})).toHaveLength(fields);
      await expectFailure(
        () => store.append(withStrongConsistency(), field, 0n, wideEvent('wide-b', fields)),
        'CONCURRENCY_CONFLICT',
      );
      const next = await store.append(
        withStrongConsistency(),
        field,
        maxSequenceNumber,
        wideEvent('wide-b', fields),
      );
      expect(next.sequenceNumbers).toHaveLength(1);
    });
  }
}
