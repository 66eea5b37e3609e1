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

  test('three concurrent plain INSERT ... SELECT of 20,000 rows each, beside guarded appends and strong reads: no deadlock, every write lands', async () => {
    const { store, table } = await suite.newStore('single');
    const bulk = (batch: number) =>
      suite.raw.query(
        `INSERT INTO ${table} (event_type, occurred_at, payload)
         SELECT 'BookCopyAddedToCirculation', now(), jsonb_build_object('BookID', 'bulk-' || (i % 50), 'Batch', ${batch}, 'Row', i)
         FROM generate_series(1, 20000) AS i`,
      );
    // Commands on boundaries the bulk rows share (bulk-0 .. bulk-49) run while the imports do.
    const commands = async (book: string) => {
      const boundary = buildEventFilter().matching().allPredicatesOf(P('BookID', book)).finalize();
      for (let attempt = 0; attempt < 20; attempt++) {
        const { maxSequenceNumber } = await store.query(withStrongConsistency(), boundary);
        const event = buildStorableEvent({
          type: 'BookCopyLentToReader',
          occurredAt: new Date(),
          payload: { BookID: book },
        });
        await store
          .append(withStrongConsistency(), boundary, maxSequenceNumber, event)
          .catch((error: unknown) => {
            if ((error as { code?: string }).code !== 'CONCURRENCY_CONFLICT') throw error;
          });
      }
    };
    const outcomes = await Promise.allSettled([
      bulk(1),
      bulk(2),
      bulk(3),
      commands('bulk-7'),
      commands('bulk-8'),
    ]);
    const failures = outcomes.flatMap((outcome) =>
      outcome.status === 'rejected' ? [String(outcome.reason)] : [],
    );
    expect(failures, 'no deadlock, no other failure').toEqual([]);
    const [counts] = await suite.raw.query<{ bulk: string; appended: string }>(
      `SELECT count(*) FILTER (WHERE payload ? 'Batch')::text AS bulk, count(*) FILTER (WHERE NOT payload ? 'Batch')::text AS appended FROM ${table}`,
    );
    expect(counts?.bulk).toBe('60000');
    expect(Number(counts?.appended)).toBeGreaterThan(0);
  }, 120_000);
}
