import {
  buildEventFilter,
  P,
  type QueryResult,
  withConsistencyToken,
  withEventualConsistency,
} from '@es/core';
import { expect } from 'vitest';
import { expectFailure, positionsOf } from '../expectations.js';
import { ADDED, BOOK_1, bookEvent } from '../fixtures.js';
import { waitUntil } from '../raw-database.js';
import type { ConformanceSuite, RegisterTest, StoreKind } from '../suite-context.js';

/**
 * SPEC §5, read-your-writes: `append` returns a token; an eventual read given it sees at least that state,
 * on any replica, waiting (bounded by `tokenWaitMs`) for one to reach it, then as `onStaleRead` says;
 * `QueryResult.token` chains reads monotonically. Paused WAL replay makes a replica stay behind on purpose.
 */
const book1 = buildEventFilter().matching().allPredicatesOf(P('BookID', BOOK_1)).finalize();
const eventual = withEventualConsistency();

export function consistencyTokens<H>(suite: ConformanceSuite<H>, test: RegisterTest): void {
  const kind = (): StoreKind =>
    suite.adapter.fromPrimaryAndReplicas && suite.cluster.replicaUrls.length > 1 ? 'replicas' : 'replicated';
  const replicaIndexes = () => suite.cluster.replicaUrls.map((_, index) => index);
  const pausedReplay = async <T>(indexes: readonly number[], work: () => Promise<T>): Promise<T> => {
    for (const index of indexes) await suite.cluster.pauseReplay(index);
    try {
      return await work();
    } finally {
      for (const index of indexes) await suite.cluster.resumeReplay(index);
    }
  };

  test('read your writes: a read given the append token sees the append, every time, served by a replica', async () => {
    const { store, reports } = await suite.newStore(kind());
    let max = 0n;
    for (let round = 0; round < 25; round++) {
      const { sequenceNumbers, token } = await store.append(
        undefined,
        book1,
        max,
        bookEvent(ADDED, { BookID: BOOK_1 }),
      );
      max = sequenceNumbers[0] as bigint;
      expect(token).toMatch(/^[0-9A-Za-z._-]+$/);
      const read = await store.query(withConsistencyToken(eventual, token), book1);
      expect(positionsOf(read).at(-1), `round ${round}: the read saw its own write`).toBe(max);
      expect(read.token).toMatch(/^[0-9A-Za-z._-]+$/);
    }
    const reads = reports.filter((report) => report.operation === 'eventstore.query');
    expect(reads.map((report) => report.server)).toEqual(Array(25).fill('replica'));
    await store.close();
  });

  test('oracle: 1,000 append-then-token-read pairs, replay paused now and then on a replica, never a stale read', async () => {
    const { store, reports } = await suite.newStore(kind(), { tokenWaitMs: 300 });
    const replicas = replicaIndexes();
    const appended: bigint[] = [];
    const stale: number[] = [];
    let paused: number | undefined;
    try {
      for (let pair = 0; pair < 1_000; pair++) {
        // With two replicas, replay is paused on a random one for 25 pairs of every 50: reads must find the
        // other. With one, for 5 pairs of every 250: those reads wait tokenWaitMs, then read the primary.
        const [every, during] = replicas.length > 1 ? [50, 25] : [250, 5];
        if (pair % every === 0) {
          paused = replicas[Math.floor(Math.random() * replicas.length)] as number;
          await suite.cluster.pauseReplay(paused);
        } else if (pair % every === during && paused !== undefined) {
          await suite.cluster.resumeReplay(paused);
          paused = undefined;
        }
        const { sequenceNumbers, token } = await store.append(
          undefined,
          book1,
          appended.at(-1) ?? 0n,
          bookEvent(ADDED, { BookID: BOOK_1 }),
        );
        appended.push(sequenceNumbers[0] as bigint);
        const read = await store.query(withConsistencyToken(eventual, token), book1);
        const seen = positionsOf(read);
        if (seen.length !== appended.length || seen.at(-1) !== appended.at(-1)) stale.push(pair);
      }
    } finally {
      if (paused !== undefined) await suite.cluster.resumeReplay(paused);
    }
    expect(stale, 'pairs whose read missed a write it had the token of').toEqual([]);
    const servers = reports.filter((report) => report.operation === 'eventstore.query');
    expect(servers).toHaveLength(1_000);
    expect(servers.every((report) => report.outcome === 'ok')).toBe(true);
    await store.close();
  }, 180_000);

  test('a replica that has not replayed the token is waited for, and serves the read once it has', async () => {
    // PostgreSQL 13 notices a resumed replay only at its next 1 s check: a wait that outlasts it.
    const { store, reports } = await suite.newStore(kind(), { tokenWaitMs: 5_000 });
    let settled = false;
    // Returned wrapped: an async function returning the promise itself would wait for it before resuming.
    const { pending } = await pausedReplay(replicaIndexes(), async () => {
      const { token } = await store.append(undefined, book1, 0n, bookEvent(ADDED, { BookID: BOOK_1 }));
      const read = store.query(withConsistencyToken(eventual, token), book1).finally(() => {
        settled = true;
      });
      await suite.cluster.waitForReceive();
      expect(settled, 'the read waits while no replica has replayed the append').toBe(false);
      return { pending: read };
    });
    const result = await pending;
    expect(positionsOf(result)).toHaveLength(1);
    expect(reports.filter((report) => report.operation === 'eventstore.query')).toEqual([
      expect.objectContaining({ server: 'replica', fellBack: false, outcome: 'ok' }),
    ]);
    await store.close();
  });

  test('no replica reaches the token within tokenWaitMs: the primary answers, or ReplicaLagError', async () => {
    const { store, reports, tableName } = await suite.newStore(kind(), { tokenWaitMs: 200 });
    const failing = await suite.newStore(kind(), {
      tableName,
      migrate: false,
      tokenWaitMs: 200,
      onStaleRead: 'error',
    });
    await pausedReplay(replicaIndexes(), async () => {
      const { token } = await store.append(undefined, book1, 0n, bookEvent(ADDED, { BookID: BOOK_1 }));
      const read = await store.query(withConsistencyToken(eventual, token), book1);
      expect(positionsOf(read), 'the primary has the append').toHaveLength(1);
      expect(reports.filter((report) => report.operation === 'eventstore.query')).toEqual([
        expect.objectContaining({ server: 'primary', fellBack: true, outcome: 'ok' }),
      ]);
      const error = await expectFailure(
        () => failing.store.query(withConsistencyToken(eventual, token), book1),
        'REPLICA_LAG',
      );
      expect(error).toMatchObject({ tokenWaitMs: 200, retryable: true });
    });
    await Promise.all([store.close(), failing.store.close()]);
  });

  test("every read returns its token: a strong read's token makes an eventual read see what it saw", async () => {
    const { store, reports } = await suite.newStore(kind(), { tokenWaitMs: 5_000 });
    await store.append(undefined, book1, 0n, bookEvent(ADDED, { BookID: BOOK_1 }));
    await suite.cluster.waitForReplay();
    const plain = await store.query(eventual, book1);
    expect(plain.token, 'a plain eventual read returns a token').toEqual(expect.any(String));
    let settled = false;
    const { pending, strong } = await pausedReplay(replicaIndexes(), async () => {
      // A second append whose token is dropped: only the strong read's token names it.
      await store.append(undefined, book1, 1n, bookEvent(ADDED, { BookID: BOOK_1 }));
      const seen = await store.query(undefined, book1);
      expect(positionsOf(seen), 'the strong read sees both').toHaveLength(2);
      expect(seen.token).toEqual(expect.any(String));
      reports.length = 0;
      const read = store.query(withConsistencyToken(eventual, seen.token), book1).finally(() => {
        settled = true;
      });
      await suite.cluster.waitForReceive();
      expect(settled, "the read waits while no replica has replayed the strong read's state").toBe(false);
      return { pending: read, strong: seen };
    });
    const read = await pending;
    expect(positionsOf(read), 'the eventual read sees what the strong read saw').toEqual(positionsOf(strong));
    expect(reports.filter((report) => report.operation === 'eventstore.query')).toEqual([
      expect.objectContaining({ server: 'replica', fellBack: false, outcome: 'ok' }),
    ]);
    // An empty read returns the token it was given, and none when it was given none.
    const empty = buildEventFilter().matching().allPredicatesOf(P('BookID', 'nobody')).finalize();
    expect((await store.query(withConsistencyToken(eventual, read.token), empty)).token).toBe(read.token);
    expect((await store.query(eventual, empty)).token).toBeUndefined();
    await store.close();
  });

  test('monotonic reads: the token of a read makes the next one wait for a replica that saw as much', async (t) => {
    if (kind() !== 'replicas') t.skip('needs two replicas and fromPrimaryAndReplicas');
    const { store, reports, table } = await suite.newStore('replicas');
    const first = await store.append(undefined, book1, 0n, bookEvent(ADDED, { BookID: BOOK_1 }));
    await suite.cluster.waitForReplay();
    await pausedReplay([1], async () => {
      // Both replicas reached the first append's token; only replica-1 gets the second append.
      await store.append(
        undefined,
        book1,
        first.sequenceNumbers[0] as bigint,
        bookEvent(ADDED, { BookID: BOOK_1 }),
      );
      await waitUntil(
        async () => (await suite.rawReplica.count(table)) === 2,
        'replica-1 has the second append',
      );
      let seen: QueryResult | undefined;
      await waitUntil(async () => {
        reports.length = 0;
        seen = await store.query(withConsistencyToken(eventual, first.token), book1);
        return reports[0]?.serverName === 'replica-1';
      }, 'a read with the first token served by replica-1');
      expect(positionsOf(seen as QueryResult)).toHaveLength(2);
      reports.length = 0;
      for (let read = 0; read < 4; read++) {
        seen = await store.query(withConsistencyToken(eventual, seen?.token), book1);
        expect(positionsOf(seen), 'never less than the read before').toHaveLength(2);
      }
      // replica-2 has not replayed what replica-1 showed: every chained read went to replica-1.
      expect(reports.map((report) => report.serverName)).toEqual(Array(4).fill('replica-1'));
    });
    await store.close();
  });

  test('a token from another table, or not a token at all, is refused with InvalidArgumentError', async () => {
    const one = await suite.newStore(kind());
    const other = await suite.newStore(kind());
    const { token } = await one.store.append(undefined, book1, 0n, bookEvent(ADDED, { BookID: BOOK_1 }));
    await expectFailure(
      () => other.store.query(withConsistencyToken(eventual, token), book1),
      'INVALID_ARGUMENT',
    );
    expect(() => withConsistencyToken(eventual, 'forged')).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
    await Promise.all([one.store.close(), other.store.close()]);
  });
}
