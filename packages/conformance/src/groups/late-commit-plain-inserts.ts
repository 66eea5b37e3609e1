import { buildEventFilter, isEventStoreError, P, withStrongConsistency } from '@es/core';
import { expect } from 'vitest';
import { describeError, positionsOf, track } from '../expectations.js';
import { waitUntil } from '../raw-database.js';
import type { ConformanceSuite, RegisterTest } from '../suite-context.js';

/**
 * SPEC §3.6, the late-commit case with writers that bypass the store: T1 and T2 are plain INSERTs into
 * the events table (SPEC §1 columns) on their own connections, as another service or a migration script
 * would write. T1 inserts an F event and stays open; T2 inserts an F event, at a higher position, and
 * commits while T1 is still open; a decision reads F; T1 commits; an append decided on that read must not
 * succeed unless the read saw T1's event too. Steps are ordered by promises and pg_blocking_pids, no sleeps.
 */
export function lateCommitPlainInserts<H>(suite: ConformanceSuite<H>, test: RegisterTest): void {
  const book = 'book-plain-5e21';
  const F = buildEventFilter().matching().allPredicatesOf(P('BookID', book)).finalize();
  const insert = (table: string) =>
    `INSERT INTO ${table} (event_type, occurred_at, payload) VALUES ('BookCopyLentToReader', now(), $1::jsonb)
     RETURNING sequence_number::text AS position`;

  test('late commit with plain INSERTs: a decision never sees a later F event without an earlier uncommitted one', async () => {
    const { store, table } = await suite.newStore('single');
    const t1 = await suite.raw.begin();
    let decision: ReturnType<typeof track<Awaited<ReturnType<typeof store.query>>>> | undefined;
    let p1: bigint;
    let p2: bigint;
    try {
      // 1. T1 inserts an F event and does not commit.
      p1 = BigInt(
        (await t1.query(insert(table), [JSON.stringify({ BookID: book, by: 'T1' })])).rows[0].position,
      );
      // 2. T2 inserts an F event and commits while T1 is open: writers never wait for each other.
      const t2 = await suite.raw.begin();
      p2 = BigInt(
        (await t2.query(insert(table), [JSON.stringify({ BookID: book, by: 'T2' })])).rows[0].position,
      );
      await t2.commit();
      expect(p2, 'T2 took a higher position than T1').toBeGreaterThan(p1);
      // 3. The decision reads F while T1 is still open. It must not return T2's event without T1's: it may
      //    wait for T1 (observed as blocked by T1), or settle with neither.
      decision = track(store.query(withStrongConsistency(), F));
      await waitUntil(
        async () => decision?.settled() === true || (await suite.raw.waitingFor(t1.pid)).length > 0,
        'the decision has settled or waits for T1',
      );
    } finally {
      // 4. T1 commits.
      await t1.commit();
    }
    const read = await decision.promise;
    const seen = positionsOf(read);
    expect(!seen.includes(p2) || seen.includes(p1), `the decision saw [${seen.join(', ')}]`).toBe(true);

    // 5. An append decided on that read succeeds only if the read saw every F event.
    let appended = false;
    try {
      await store.append(withStrongConsistency(), F, read.maxSequenceNumber, {
        type: 'BookCopyReturnedByReader',
        occurredAt: new Date(),
        payload: { BookID: book },
        metadata: {},
      });
      appended = true;
    } catch (error) {
      if (!isEventStoreError(error, 'CONCURRENCY_CONFLICT')) throw new Error(describeError(error));
    }
    expect(
      appended,
      `append after the decision; it saw [${seen.join(', ')}], the F events are [${p1}, ${p2}]`,
    ).toBe(seen.includes(p1) && seen.includes(p2));
  });
}
