import { buildEventFilter, P, withStrongConsistency } from '@es/core';
import { expect } from 'vitest';
import { track } from '../expectations.js';
import { appendLibrary, BOOK_1 } from '../fixtures.js';
import { waitUntil } from '../raw-database.js';
import type { ConformanceSuite, RegisterTest } from '../suite-context.js';

/**
 * A strong read waits for in-flight writers whose events could match its filter (the read barrier), but
 * once it has waited it holds nothing: writers of its boundary, and other strong reads of it, must not
 * wait for the read itself, however long it runs. To catch a read in the middle, the test holds an
 * ACCESS EXCLUSIVE lock on the events table: a read that has passed its barrier then waits for the table,
 * and pg_locks shows which advisory locks it still holds while it waits (there must be none).
 */
export function readBarrier<H>(suite: ConformanceSuite<H>, test: RegisterTest): void {
  const filters = {
    'a boundary': buildEventFilter().matching().allPredicatesOf(P('BookID', BOOK_1)).finalize(),
    'every event (matchingAnyEvent)': buildEventFilter().matchingAnyEvent(),
  };
  for (const [what, filter] of Object.entries(filters)) {
    test(`strong reads of ${what} hold no lock while they read, and overlap`, async () => {
      const { store, table } = await suite.newStore('single');
      await appendLibrary(store);
      const holder = await suite.raw.begin();
      const reads: ReturnType<typeof track>[] = [];
      let readers: number[] = [];
      try {
        await holder.query(`LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`);
        for (let index = 0; index < 2; index++)
          reads.push(track(store.query(withStrongConsistency(), filter)));
        // Both reads wait for the table at once: neither waits behind the other's barrier.
        await waitUntil(async () => {
          readers = await suite.raw.waitingFor(holder.pid);
          return readers.length === 2 || reads.some((read) => read.settled());
        }, 'both strong reads wait for the table');
        expect(readers, 'both reads passed their barrier and wait for the table').toHaveLength(2);
        const held = await suite.raw.query<{ pid: number; mode: string }>(
          `SELECT pid, mode FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid = ANY ($1::int[])`,
          [readers],
        );
        expect(held, 'advisory locks held by the reads while they read').toEqual([]);
      } finally {
        await holder.rollback();
      }
      const results = await Promise.all(reads.map((read) => read.promise));
      for (const result of results) expect(result).toEqual(results[0]);
    });
  }
}
