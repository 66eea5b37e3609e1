import { buildEventFilter, isEventStoreError, P, withStrongConsistency } from '@es/core';
import { expect } from 'vitest';
import { conflictFields, describeError } from '../expectations.js';
import { ADDED, BOOK_1, BOOK_2, bookEvent, LENT, READER_1 } from '../fixtures.js';
import { createRandom, oracleViolations, type RecordedAppend, Workload } from '../oracle.js';
import { type RawDatabase, waitUntil } from '../raw-database.js';
import type { ConformanceSuite, RegisterTest, StoreUnderTest } from '../suite-context.js';

/** SPEC §3.6: many writers at once. */

function envInteger(name: string, fallback: number): number {
  const value = process.env[name];
  if (value === undefined || value === '') return fallback;
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed) || parsed < 1)
    throw new Error(`${name} must be a positive integer, got ${value}`);
  return parsed;
}

export function concurrency<H>(suite: ConformanceSuite<H>, test: RegisterTest): void {
  const sameBoundary = async (seeded: boolean) => {
    const under = await suite.newStore('single');
    await raceOnOneBoundary(under, suite.raw, seeded);
  };

  test('20 concurrent appends on an empty boundary with expected 0: exactly one wins, one event inserted', () =>
    sameBoundary(false));

  test('20 concurrent appends with the same filter and the same expected max: exactly one wins', () =>
    sameBoundary(true));

  test('the oracle: random overlapping read-decide-append cycles never break the boundary', async () => {
    const seed = envInteger('ES_CONFORMANCE_SEED', Math.floor(Math.random() * 2 ** 31));
    const workers = envInteger('ES_CONFORMANCE_ORACLE_WORKERS', 16);
    const attempts = envInteger('ES_CONFORMANCE_ORACLE_ATTEMPTS', 2000);
    const context = `(seed ${seed}; replay with ES_CONFORMANCE_SEED=${seed})`;
    const { store, table } = await suite.newStore('single');
    const random = createRandom(seed);
    const recorded: RecordedAppend[] = [];
    const unexpected: string[] = [];
    let conflicts = 0;
    let next = 0;
    const occurredAt = new Date(Date.UTC(2024, 0, 1));

    // Each worker loops: draw a filter, read it strongly, draw events, append with the max it read.
    // The draws are shared (one PRNG), so the workload depends on the seed and the interleaving.
    const worker = async () => {
      const workload = new Workload(random);
      while (next < attempts && unexpected.length === 0) {
        next++;
        const filter = workload.filter();
        const read = await store.query(withStrongConsistency(), filter);
        const events = workload.events(occurredAt);
        try {
          const { sequenceNumbers } = await store.append(
            withStrongConsistency(),
            filter,
            read.maxSequenceNumber,
            ...events,
          );
          recorded.push({
            filter,
            expected: read.maxSequenceNumber,
            read: read.events.map((event) => event.sequenceNumber),
            positions: sequenceNumbers,
            events,
          });
        } catch (error) {
          if (!isEventStoreError(error, 'CONCURRENCY_CONFLICT')) unexpected.push(describeError(error));
          else if ((conflictFields(error).actual as bigint) === read.maxSequenceNumber) {
            unexpected.push(`a conflict whose actual max equals the expected ${read.maxSequenceNumber}`);
          } else conflicts++;
        }
      }
    };
    await Promise.all(Array.from({ length: workers }, worker));

    expect(unexpected, `unexpected errors ${context}`).toEqual([]);
    const stored = await suite.raw.events(table);
    const insertedByAppends = recorded.reduce((sum, append) => sum + append.positions.length, 0);
    expect(stored.length, `stored events = events of successful appends ${context}`).toBe(insertedByAppends);
    expect(oracleViolations(recorded, stored), `oracle violations ${context}`).toEqual([]);
    // The run must exercise both outcomes, or it proves nothing.
    expect(recorded.length, `successful appends ${context}`).toBeGreaterThanOrEqual(
      Math.min(50, attempts / 10),
    );
    expect(conflicts, `conflicts ${context}`).toBeGreaterThan(0);
  }, 180_000);
}

/**
 * 20 appends with the same filter and the same expected max, released together: exactly one wins, every
 * other one fails with ConcurrencyConflictError, and exactly one event is inserted. `raw` is raw SQL on
 * the store's database (it holds the start barrier and watches the waiting backends).
 */
export async function raceOnOneBoundary(
  { store, table }: StoreUnderTest,
  raw: RawDatabase,
  seeded: boolean,
): Promise<void> {
  const filter = buildEventFilter()
    .matching()
    .anyEventTypeOf(LENT)
    .andAllPredicatesOf(P('BookID', BOOK_1))
    .finalize();
  // Events outside the boundary, and (when seeded) one inside, so that the expected max is not trivial.
  await store.append(
    undefined,
    buildEventFilter().matchingAnyEvent(),
    0n,
    bookEvent(ADDED, { BookID: BOOK_2 }),
  );
  if (seeded)
    await store.append(undefined, filter, 0n, bookEvent(LENT, { BookID: BOOK_1, ReaderID: READER_1 }));
  const before = await raw.count(table);
  const { maxSequenceNumber: expected } = await store.query(withStrongConsistency(), filter);
  const writers = 20;
  // A start barrier: the table is locked until all 20 appends are in flight (each waiting for a lock,
  // on the table or on one another), so they reach the guard together rather than one by one.
  const holder = await raw.begin();
  let all: Promise<PromiseSettledResult<unknown>[]> | undefined;
  try {
    await holder.query(`LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`);
    all = Promise.allSettled(
      Array.from({ length: writers }, (_, writer) =>
        store.append(withStrongConsistency(), filter, expected, bookEvent(LENT, { BookID: BOOK_1, writer })),
      ),
    );
    await waitUntil(
      async () => (await raw.waitingBackends([holder.pid])).length >= writers,
      `all ${writers} appends are in flight (the adapter's handle must allow ${writers} connections)`,
    );
  } finally {
    await holder.rollback();
  }
  const results = (await all) as PromiseSettledResult<{ sequenceNumbers: readonly bigint[] }>[];
  const winners = results.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  const losers = results.flatMap((result) =>
    result.status === 'rejected' ? [result.reason as unknown] : [],
  );
  expect(winners, 'exactly one of the concurrent appends wins').toHaveLength(1);
  const unexpected = losers
    .filter((error) => !isEventStoreError(error, 'CONCURRENCY_CONFLICT'))
    .map(describeError);
  expect(unexpected, 'every loser fails with ConcurrencyConflictError').toEqual([]);
  const winner = winners[0]?.sequenceNumbers[0];
  for (const loser of losers) expect(conflictFields(loser)).toEqual({ expected, actual: winner });
  const stored = await raw.events(table);
  expect(stored).toHaveLength(before + 1);
  expect(stored.at(-1)?.sequenceNumber).toBe(winner);
}
