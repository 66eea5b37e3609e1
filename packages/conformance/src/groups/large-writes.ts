import { buildEventFilter, buildStorableEvent, P, withStrongConsistency } from '@es/core';
import { expect } from 'vitest';
import type { ConformanceSuite, RegisterTest } from '../suite-context.js';

/**
 * Large writes must not exhaust PostgreSQL's lock table (one advisory lock per distinct payload value would):
 * the store escalates to one coarse lock, for appends and for plain INSERTs alike, and stays correct.
 */
export function largeWrites<H>(suite: ConformanceSuite<H>, test: RegisterTest): void {
  test('an append of 10,000 events with 30,000 distinct payload values succeeds in one call, in argument order', async () => {
    const { store, table } = await suite.newStore('single');
    const events = Array.from({ length: 10_000 }, (_, index) =>
      buildStorableEvent({
        type: 'BookCopyAddedToCirculation',
        occurredAt: new Date(),
        payload: { BookID: `bulk-${index}`, CopyID: `copy-${index}`, Index: index },
      }),
    );
    const { sequenceNumbers } = await store.append(
      withStrongConsistency(),
      buildEventFilter().matchingAnyEvent(),
      0n,
      ...events,
    );
    expect(sequenceNumbers).toHaveLength(10_000);
    const rows = await suite.raw.events(table);
    expect(rows.map((row) => row.payload.Index)).toEqual(events.map((_, index) => index));
    expect(rows.map((row) => row.sequenceNumber)).toEqual(sequenceNumbers);
  });

  test('a plain INSERT of 25,000 rows with 50,000 distinct payload values into the events table succeeds and the guard still sees it', async () => {
    const { store, table } = await suite.newStore('single');
    await suite.raw.query(
      `INSERT INTO ${table} (event_type, occurred_at, payload)
       SELECT 'BookCopyAddedToCirculation', now(), jsonb_build_object('BookID', 'plain-' || i, 'CopyID', 'copy-' || i) FROM generate_series(1, 25000) AS i`,
    );
    const boundary = buildEventFilter().matching().allPredicatesOf(P('BookID', 'plain-24999')).finalize();
    const { maxSequenceNumber } = await store.query(withStrongConsistency(), boundary);
    expect(maxSequenceNumber).toBeGreaterThan(0n);
    await expect(
      store.append(
        withStrongConsistency(),
        boundary,
        0n,
        buildStorableEvent({
          type: 'BookCopyLentToReader',
          occurredAt: new Date(),
          payload: { BookID: 'plain-24999' },
        }),
      ),
    ).rejects.toMatchObject({ code: 'CONCURRENCY_CONFLICT' });
    expect(await suite.raw.count(table)).toBe(25_000);
  });
}
