import { buildEventFilter, P, withEventualConsistency, withStrongConsistency } from '@es/core';
import { expect } from 'vitest';
import { expectFailure } from '../expectations.js';
import { BOOK_1, BOOK_2, LENT, RETURNED } from '../fixtures.js';
import type { ConformanceSuite, RegisterTest } from '../suite-context.js';

/** SPEC §5 (the Go original's snapshots): save, load, delete by (projection type, filter hash). */

const boundary = buildEventFilter()
  .matching()
  .anyEventTypeOf(LENT, RETURNED)
  .andAllPredicatesOf(P('BookID', BOOK_1))
  .finalize();
/** The same filter, built in another order: it must find the same snapshot. */
const sameBoundary = buildEventFilter()
  .matching()
  .anyEventTypeOf(RETURNED, LENT, LENT)
  .andAllPredicatesOf(P('BookID', BOOK_1))
  .finalize();
const otherBoundary = buildEventFilter().matching().allPredicatesOf(P('BookID', BOOK_2)).finalize();

export function snapshots<H>(suite: ConformanceSuite<H>, test: RegisterTest): void {
  test('save then load (strong): the state and position come back; equal filters share a snapshot', async () => {
    const { store } = await suite.newStore('single');
    expect(await store.loadSnapshot(undefined, 'loans', boundary)).toBeUndefined();
    const state = { lent: 2, readers: ['r-1', 'r-2'], nested: { ok: true } };
    await store.saveSnapshot(undefined, {
      projectionType: 'loans',
      filter: boundary,
      sequenceNumber: 7n,
      state,
    });
    const loaded = await store.loadSnapshot(withStrongConsistency(), 'loans', sameBoundary);
    expect(loaded).toMatchObject({ projectionType: 'loans', sequenceNumber: 7n, state });
    expect(loaded?.filterHash).toMatch(/^[0-9a-f]{64}$/);
    expect(loaded?.savedAt).toBeInstanceOf(Date);
    // Another filter or another projection type is another snapshot.
    expect(await store.loadSnapshot(undefined, 'loans', otherBoundary)).toBeUndefined();
    expect(await store.loadSnapshot(undefined, 'returns', boundary)).toBeUndefined();
  });

  test('a lower position never overwrites a higher one; an equal or higher one replaces it', async () => {
    const { store } = await suite.newStore('single');
    const save = (sequenceNumber: bigint, lent: number) =>
      store.saveSnapshot(undefined, {
        projectionType: 'loans',
        filter: boundary,
        sequenceNumber,
        state: { lent },
      });
    await save(10n, 10);
    await save(4n, 4);
    expect(await store.loadSnapshot(undefined, 'loans', boundary)).toMatchObject({
      sequenceNumber: 10n,
      state: { lent: 10 },
    });
    await save(10n, 11);
    expect((await store.loadSnapshot(undefined, 'loans', boundary))?.state).toEqual({ lent: 11 });
    await save(12n, 12);
    expect((await store.loadSnapshot(undefined, 'loans', boundary))?.sequenceNumber).toBe(12n);
  });

  test('concurrent saves of one snapshot: the highest position wins, whatever the order', async () => {
    const { store } = await suite.newStore('single');
    const positions = Array.from({ length: 16 }, (_, index) => BigInt(((index * 7) % 16) + 1));
    await Promise.all(
      positions.map((sequenceNumber) =>
        store.saveSnapshot(undefined, {
          projectionType: 'loans',
          filter: boundary,
          sequenceNumber,
          state: { at: Number(sequenceNumber) },
        }),
      ),
    );
    expect(await store.loadSnapshot(undefined, 'loans', boundary)).toMatchObject({
      sequenceNumber: 16n,
      state: { at: 16 },
    });
  });

  test('load is routed like a query: eventual from the replica (after replay), strong from the primary', async () => {
    const { store, reports } = await suite.newStore('replicated');
    await store.saveSnapshot(withEventualConsistency(), {
      projectionType: 'loans',
      filter: boundary,
      sequenceNumber: 3n,
      state: { lent: 3 },
    });
    expect(reports.at(-1)).toMatchObject({
      operation: 'eventstore.snapshot.save',
      server: 'primary',
      outcome: 'ok',
    });
    await suite.cluster.waitForReplay();
    expect((await store.loadSnapshot(withEventualConsistency(), 'loans', boundary))?.sequenceNumber).toBe(3n);
    expect(reports.at(-1)).toMatchObject({ operation: 'eventstore.snapshot.load', server: 'replica' });
    await store.loadSnapshot(undefined, 'loans', boundary);
    expect(reports.at(-1)).toMatchObject({ operation: 'eventstore.snapshot.load', server: 'primary' });
  });

  test('delete is idempotent; bad input is refused before any statement', async () => {
    const { store, table } = await suite.newStore('single');
    await store.saveSnapshot(undefined, {
      projectionType: 'loans',
      filter: boundary,
      sequenceNumber: 1n,
      state: {},
    });
    await store.deleteSnapshot(undefined, 'loans', sameBoundary);
    await store.deleteSnapshot(undefined, 'loans', boundary);
    expect(await store.loadSnapshot(undefined, 'loans', boundary)).toBeUndefined();
    const save = (snapshot: Record<string, unknown>) =>
      store.saveSnapshot(undefined, {
        projectionType: 'loans',
        filter: boundary,
        sequenceNumber: 1n,
        state: {},
        ...snapshot,
      } as never);
    for (const bad of [
      { projectionType: '' },
      { sequenceNumber: -1n },
      { state: [1] },
      { state: { n: 1n } },
    ]) {
      const error = await expectFailure(() => save(bad), 'INVALID_ARGUMENT');
      expect(error.message).not.toContain('1n');
    }
    await expectFailure(() => save({ filter: { items: 'x' } }), 'INVALID_FILTER');
    const rows = await suite.raw.query<{ count: string }>(
      `SELECT count(*)::text AS count FROM ${table.replace(/"$/, '_snapshots"')}`,
    );
    expect(rows[0]?.count).toBe('0');
  });
}
