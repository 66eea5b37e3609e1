import {
  buildEventFilter,
  getConsistencyLevel,
  P,
  withEventualConsistency,
  withStrongConsistency,
} from '@es/core';
import { expect } from 'vitest';
import { expectFailure, positionsOf } from '../expectations.js';
import { ADDED, BOOK_1, BOOK_2, bookEvent } from '../fixtures.js';
import { waitUntil } from '../raw-database.js';
import { type ConformanceSuite, freshTableName, type RegisterTest } from '../suite-context.js';

/**
 * SPEC §4, routing. With WAL replay paused on the replica, a fresh event exists only on the primary:
 * whether a read sees it tells which server answered, independently of the store's own reports.
 */
export function routing<H>(suite: ConformanceSuite<H>, test: RegisterTest): void {
  const book1 = buildEventFilter().matching().allPredicatesOf(P('BookID', BOOK_1)).finalize();

  test('eventual reads go to the replica; strong and context-free reads go to the primary', async () => {
    const { store, reports } = await suite.newStore('replicated');
    const old = await store.append(undefined, book1, 0n, bookEvent(ADDED, { BookID: BOOK_1 }));
    await suite.cluster.waitForReplay();
    await suite.cluster.pauseReplay();
    let fresh: readonly bigint[] = [];
    try {
      fresh = (
        await store.append(
          undefined,
          book1,
          old.sequenceNumbers[0] ?? 0n,
          bookEvent(ADDED, { BookID: BOOK_1 }),
        )
      ).sequenceNumbers;
      reports.length = 0;
      const eventual = await store.query(withEventualConsistency(), book1);
      const strong = await store.query(withStrongConsistency(), book1);
      const contextFree = await store.query(undefined, book1);
      expect(positionsOf(eventual), 'the eventual read must not see the unreplayed event').toEqual(
        old.sequenceNumbers,
      );
      expect(eventual.maxSequenceNumber).toBe(old.sequenceNumbers[0]);
      expect(positionsOf(strong)).toEqual([...old.sequenceNumbers, ...fresh]);
      expect(positionsOf(contextFree)).toEqual([...old.sequenceNumbers, ...fresh]);
    } finally {
      await suite.cluster.resumeReplay();
    }
    expect(
      reports.map(({ operation, consistency, server, fellBack, outcome }) => ({
        operation,
        consistency,
        server,
        fellBack,
        outcome,
      })),
    ).toEqual([
      {
        operation: 'eventstore.query',
        consistency: 'eventual',
        server: 'replica',
        fellBack: false,
        outcome: 'ok',
      },
      {
        operation: 'eventstore.query',
        consistency: 'strong',
        server: 'primary',
        fellBack: false,
        outcome: 'ok',
      },
      {
        operation: 'eventstore.query',
        consistency: 'strong',
        server: 'primary',
        fellBack: false,
        outcome: 'ok',
      },
    ]);
    // Once replayed, the replica serves the fresh event too.
    await suite.cluster.waitForReplay();
    expect(positionsOf(await store.query(withEventualConsistency(), book1))).toEqual([
      ...old.sequenceNumbers,
      ...fresh,
    ]);
  });

  test('the default consistency is strong', async () => {
    expect(getConsistencyLevel(undefined)).toBe('strong');
    expect(getConsistencyLevel(withEventualConsistency())).toBe('eventual');
    expect(getConsistencyLevel(withStrongConsistency(withEventualConsistency()))).toBe('strong');
    const { store, reports } = await suite.newStore('replicated');
    await store.query(undefined, book1);
    expect(reports.at(-1)).toMatchObject({ consistency: 'strong', server: 'primary' });
  });

  test('a single-database store serves eventual reads from its one server', async () => {
    const { store, reports } = await suite.newStore('single');
    await suite.cluster.waitForReplay();
    await suite.cluster.pauseReplay();
    try {
      const { sequenceNumbers } = await store.append(
        undefined,
        book1,
        0n,
        bookEvent(ADDED, { BookID: BOOK_1 }),
      );
      expect(positionsOf(await store.query(withEventualConsistency(), book1))).toEqual(sequenceNumbers);
    } finally {
      await suite.cluster.resumeReplay();
    }
    expect(reports.at(-1)).toMatchObject({ consistency: 'eventual', server: 'primary', fellBack: false });
  });

  test('an append with an eventual context is refused with ConsistencyViolationError naming the rule; nothing inserted', async () => {
    for (const kind of ['replicated', 'single'] as const) {
      const { store, table } = await suite.newStore(kind);
      for (const ctx of [withEventualConsistency(), withEventualConsistency(withStrongConsistency())]) {
        const error = await expectFailure(
          () => store.append(ctx, book1, 0n, bookEvent(ADDED, { BookID: BOOK_1 })),
          'CONSISTENCY_VIOLATION',
        );
        expect(error.message).toMatch(/eventual/i);
        expect(error.message).toMatch(/strong/i);
      }
      // Even with nothing to insert: the call is wrong, whatever it carries.
      await expectFailure(() => store.append(withEventualConsistency(), book1, 0n), 'CONSISTENCY_VIOLATION');
      expect(await suite.raw.count(table)).toBe(0);
      // The control: the same append with a strong context succeeds.
      await store.append(withStrongConsistency(), book1, 0n, bookEvent(ADDED, { BookID: BOOK_1 }));
      expect(await suite.raw.count(table)).toBe(1);
    }
  });

  test('migrate() runs on the primary, whatever the context', async () => {
    const tableName = freshTableName();
    const { store, table, reports } = await suite.newStore('replicated', { tableName, migrate: false });
    await store.migrate(withEventualConsistency());
    expect(await suite.raw.relationExists(table)).toBe(true);
    expect(reports).toEqual([
      expect.objectContaining({ operation: 'eventstore.migrate', server: 'primary', outcome: 'ok' }),
    ]);
    // The replica has the table only through replication, and accepts eventual reads once it has replayed.
    await suite.cluster.waitForReplay();
    expect(await suite.rawReplica.relationExists(table)).toBe(true);
    const book2 = buildEventFilter().matching().allPredicatesOf(P('BookID', BOOK_2)).finalize();
    expect((await store.query(withEventualConsistency(), book2)).events).toEqual([]);
  });

  test('migrate() returns once the replica has replayed the schema: an eventual read right after it works', async () => {
    const { store, table } = await suite.newStore('replicated', { migrate: false });
    await suite.cluster.pauseReplay();
    let returned = false;
    let migrated: Promise<void> | undefined;
    try {
      migrated = store.migrate().then(() => {
        returned = true;
      });
      await waitUntil(() => suite.raw.relationExists(table), 'the schema exists on the primary');
      await suite.cluster.waitForReceive();
      expect(await suite.rawReplica.relationExists(table), 'replay is paused').toBe(false);
      expect(returned, 'migrate() must not return while the replica lacks the schema').toBe(false);
    } finally {
      await suite.cluster.resumeReplay();
    }
    await migrated;
    const book2 = buildEventFilter().matching().allPredicatesOf(P('BookID', BOOK_2)).finalize();
    expect((await store.query(withEventualConsistency(), book2)).events).toEqual([]);
  });
}
