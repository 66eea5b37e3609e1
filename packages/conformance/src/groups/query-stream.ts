import {
  buildEventFilter,
  type EventFilter,
  type EventStore,
  P,
  type StoredEvent,
  withEventualConsistency,
  withSignal,
} from '@es/core';
import { expect } from 'vitest';
import { expectFailure } from '../expectations.js';
import { ADDED, BOOK_1, BOOK_2, bookEvent, collect, LENT } from '../fixtures.js';
import type { ConformanceSuite, RegisterTest } from '../suite-context.js';

/** SPEC §5: `queryStream`, the events of `query` in bounded memory, with the same guarantees. */

const book1 = buildEventFilter().matching().allPredicatesOf(P('BookID', BOOK_1)).finalize();
const everything = buildEventFilter().matching().anyEventTypeOf(ADDED, LENT).finalize();

/** 25 events: ADDED for book 1 and 2 in turn, then a LENT every fifth. */
async function fill(store: EventStore): Promise<void> {
  const events = Array.from({ length: 25 }, (_, n) =>
    bookEvent(n % 5 === 4 ? LENT : ADDED, { BookID: n % 2 === 0 ? BOOK_1 : BOOK_2, n }),
  );
  await store.append(undefined, everything, 0n, ...events);
}

const positions = (events: readonly StoredEvent[]) => events.map((event) => event.sequenceNumber);

export function queryStream<H>(suite: ConformanceSuite<H>, test: RegisterTest): void {
  test('strong and eventual streams return what query() returns, for every batch size', async () => {
    const { store } = await suite.newStore('replicated');
    await fill(store);
    await suite.cluster.waitForReplay();
    for (const filter of [book1, everything] as EventFilter[]) {
      const expected = (await store.query(undefined, filter)).events;
      expect(expected.length).toBeGreaterThan(0);
      for (const batchSize of [1, 4, 13, 25, 1000]) {
        expect(await collect(store.queryStream(undefined, filter, { batchSize }))).toEqual(expected);
        const eventual = await collect(store.queryStream(withEventualConsistency(), filter, { batchSize }));
        expect(eventual).toEqual(expected);
      }
    }
  });

  test('an eventual stream runs on a replica, a strong one on the primary, each reported once', async () => {
    const { store, reports } = await suite.newStore('replicated');
    await fill(store);
    await suite.cluster.waitForReplay();
    reports.length = 0;
    const eventual = await collect(
      store.queryStream(withEventualConsistency(), everything, { batchSize: 7 }),
    );
    await collect(store.queryStream(undefined, everything, { batchSize: 7 }));
    expect(reports.map((r) => [r.operation, r.server, r.outcome, r.eventCount])).toEqual([
      ['eventstore.queryStream', 'replica', 'ok', eventual.length],
      ['eventstore.queryStream', 'primary', 'ok', eventual.length],
    ]);
  });

  test('a strong stream is a decision read: its last position is the one to append with', async () => {
    const { store } = await suite.newStore('single');
    await fill(store);
    const streamed = await collect(store.queryStream(undefined, book1, { batchSize: 3 }));
    const last = streamed.at(-1)?.sequenceNumber ?? 0n;
    await store.append(undefined, book1, last, bookEvent(LENT, { BookID: BOOK_1 }));
    await expectFailure(
      () => store.append(undefined, book1, last, bookEvent(LENT, { BookID: BOOK_1 })),
      'CONCURRENCY_CONFLICT',
    );
  });

  test('leaving the loop early or aborting releases the connection; the store goes on', async () => {
    const { store } = await suite.newStore('replicated');
    await fill(store);
    await suite.cluster.waitForReplay();
    for (let round = 0; round < 30; round++) {
      for await (const event of store.queryStream(
        round % 2 ? undefined : withEventualConsistency(),
        everything,
        {
          batchSize: 2,
        },
      )) {
        expect(event.sequenceNumber).toBeGreaterThan(0n);
        break;
      }
    }
    const controller = new AbortController();
    const seen: StoredEvent[] = [];
    const aborted = (async () => {
      for await (const event of store.queryStream(withSignal(undefined, controller.signal), everything, {
        batchSize: 2,
      })) {
        seen.push(event);
        if (seen.length === 3) controller.abort();
      }
    })();
    await expectFailure(() => aborted, 'ABORTED');
    expect(seen.length).toBeLessThan(25);
    // Far more streams than any pool has connections ran and left: none was kept.
    expect(positions((await store.query(undefined, everything)).events)).toHaveLength(25);
  });

  test('a bad batch size or filter is refused at once, before any I/O', async () => {
    const { store, reports } = await suite.newStore('single');
    reports.length = 0;
    for (const batchSize of [0, -1, 1.5, 100_001, Number.NaN]) {
      expect(() => store.queryStream(undefined, book1, { batchSize })).toThrow(
        expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
      );
    }
    expect(() => store.queryStream(undefined, {} as EventFilter)).toThrow(
      expect.objectContaining({ code: 'INVALID_FILTER' }),
    );
    expect(reports).toEqual([]);
  });
}
