import {
  buildEventFilter,
  buildStorableEvent,
  type EventFilter,
  isEventStoreError,
  matchesFilter,
  P,
  withStrongConsistency,
} from '@es/core';
import { describe, expect, it } from 'vitest';
import { freshTable, instance, useCluster } from './helpers.js';

const INSTANCES = 4;
const WORKERS_PER_INSTANCE = 4;
const ATTEMPTS_PER_WORKER = 40;
const BOOKS = ['b-1', 'b-2', 'b-3'];
const READERS = ['r-1', 'r-2'];
const TYPES = ['BookCopyLentToReader', 'BookCopyReturnedByReader'];

const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)] as T;

/** Overlapping boundaries: by book, by reader, by type only, or book OR reader. */
function randomBoundary(): EventFilter {
  switch (Math.floor(Math.random() * 4)) {
    case 0:
      return buildEventFilter()
        .matching()
        .anyEventTypeOf(...(TYPES as [string]))
        .andAllPredicatesOf(P('BookID', pick(BOOKS)))
        .finalize();
    case 1:
      return buildEventFilter()
        .matching()
        .anyPredicateOf(P('ReaderID', pick(READERS)))
        .finalize();
    case 2:
      return buildEventFilter().matching().anyEventTypeOf(pick(TYPES)).finalize();
    default:
      return buildEventFilter()
        .matching()
        .allPredicatesOf(P('BookID', pick(BOOKS)))
        .orMatching()
        .anyEventTypeOf(pick(TYPES))
        .andAnyPredicateOf(P('ReaderID', pick(READERS)))
        .finalize();
  }
}

describe('several application instances racing on one primary', () => {
  const cluster = useCluster();

  it('never lets an append through on a boundary that changed (oracle over every event)', async () => {
    const table = freshTable('race');
    const apps = Array.from({ length: INSTANCES }, () => instance(cluster(), table));
    try {
      await Promise.all(apps.map((app) => app.store.migrate()));
      const successes: { filter: EventFilter; expected: bigint; first: bigint }[] = [];
      let conflicts = 0;
      await Promise.all(
        apps.flatMap((app) =>
          Array.from({ length: WORKERS_PER_INSTANCE }, async () => {
            for (let attempt = 0; attempt < ATTEMPTS_PER_WORKER; attempt++) {
              const filter = randomBoundary();
              const ctx = withStrongConsistency();
              const { maxSequenceNumber } = await app.store.query(ctx, filter);
              const event = buildStorableEvent({
                type: pick(TYPES),
                occurredAt: new Date(),
                payload: { BookID: pick(BOOKS), ReaderID: pick(READERS) },
              });
              try {
                const { sequenceNumbers } = await app.store.append(ctx, filter, maxSequenceNumber, event);
                successes.push({ filter, expected: maxSequenceNumber, first: sequenceNumbers[0] as bigint });
              } catch (error) {
                if (!isEventStoreError(error, 'CONCURRENCY_CONFLICT')) throw error;
                conflicts++;
              }
            }
          }),
        ),
      );

      // The oracle reads what was persisted through raw SQL, not through the store under test.
      const [first] = apps as [(typeof apps)[number]];
      const { rows } = await first.primary.query(
        `SELECT sequence_number::text AS position, event_type, payload FROM "${table}" ORDER BY sequence_number`,
      );
      const events = rows.map((row) => ({
        sequenceNumber: BigInt(row.position),
        type: row.event_type as string,
        occurredAt: new Date(0),
        payload: row.payload,
      }));
      const violations = successes.filter(({ filter, expected, first }) => {
        const before = events.filter((event) => event.sequenceNumber < first && matchesFilter(filter, event));
        return (before.at(-1)?.sequenceNumber ?? 0n) !== expected;
      });

      expect(events).toHaveLength(successes.length);
      expect(successes.length).toBeGreaterThan(20);
      expect(conflicts).toBeGreaterThan(0);
      expect(violations).toEqual([]);
    } finally {
      await Promise.all(apps.map((app) => app.close()));
    }
  });
});
