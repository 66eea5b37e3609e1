import { randomUUID } from 'node:crypto';
import {
  buildEventFilter,
  buildStorableEvent,
  P,
  withEventualConsistency,
  withStrongConsistency,
} from '@es/core';
import { startSilentServer } from '@es/testing';
import { expect, type TestContext } from 'vitest';
import { describeError, expectFailure, positionsOf } from '../expectations.js';
import { ADDED, BOOK_1, bookEvent, LENT } from '../fixtures.js';
import { type ConformanceSuite, freshTableName, type RegisterTest } from '../suite-context.js';

/** SPEC §4: a replica that is down, unreachable or silent; a primary that is really a replica. */

const book1 = buildEventFilter().matching().allPredicatesOf(P('BookID', BOOK_1)).finalize();

export function replicaFailure<H>(suite: ConformanceSuite<H>, test: RegisterTest): void {
  /** Runs `work` with the replica stopped, and always starts it again. */
  const withReplicaStopped = async (t: TestContext, work: () => Promise<void>) => {
    if (!suite.cluster.canStopReplica) t.skip('this cluster cannot stop its replica (external servers)');
    await suite.cluster.stopReplica();
    try {
      await work();
    } finally {
      await suite.cluster.startReplica();
    }
  };

  /** Eventual reads recover once the replica is back: retried (bounded) while the handle reconnects. */
  const eventualReadRecovers = async (
    read: () => Promise<readonly bigint[]>,
    expected: readonly bigint[],
  ) => {
    await suite.cluster.waitForReplay();
    const errors: string[] = [];
    for (let attempt = 0; attempt < 50; attempt++) {
      try {
        expect(await read()).toEqual(expected);
        return;
      } catch (error) {
        errors.push(describeError(error));
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    expect.fail(
      `eventual reads did not recover after the replica restarted: ${errors.slice(-3).join(' | ')}`,
    );
  };

  test('a stopped replica: eventual reads fail with ReplicaUnavailableError (with cause); strong work goes on; reads recover', async (t) => {
    const { store, table, reports } = await suite.newStore('replicated');
    const first = await store.append(undefined, book1, 0n, bookEvent(ADDED, { BookID: BOOK_1 }));
    await suite.cluster.waitForReplay();
    // Warm the replica handle, so that it holds connections that the stop breaks.
    await store.query(withEventualConsistency(), book1);
    let positions: readonly bigint[] = first.sequenceNumbers;
    await withReplicaStopped(t, async () => {
      for (let attempt = 0; attempt < 3; attempt++) {
        const error = await expectFailure(
          () => store.query(withEventualConsistency(), book1),
          'REPLICA_UNAVAILABLE',
        );
        expect(error.cause, 'ReplicaUnavailableError carries the driver error as cause').toBeDefined();
      }
      expect(reports.at(-1)).toMatchObject({
        server: 'replica',
        outcome: 'error',
        errorCode: 'REPLICA_UNAVAILABLE',
      });
      // Strong reads and appends are unaffected; there is no silent fallback.
      expect(positionsOf(await store.query(withStrongConsistency(), book1))).toEqual(positions);
      const next = await store.append(
        withStrongConsistency(),
        book1,
        positions.at(-1) ?? 0n,
        bookEvent(LENT, { BookID: BOOK_1 }),
      );
      positions = [...positions, ...next.sequenceNumbers];
      expect(positionsOf(await store.query(undefined, book1))).toEqual(positions);
      expect(reports.some((report) => report.fellBack)).toBe(false);
    });
    expect(await suite.raw.count(table)).toBe(2);
    await eventualReadRecovers(
      async () => positionsOf(await store.query(withEventualConsistency(), book1)),
      positions,
    );
  });

  test("a stopped replica with replicaFallback 'primary': eventual reads are served by the primary, reported as fellBack", async (t) => {
    const { store, reports, traces } = await suite.newStore('replicated', { replicaFallback: 'primary' });
    await suite.cluster.waitForReplay();
    await store.query(withEventualConsistency(), book1);
    let positions: readonly bigint[] = [];
    await withReplicaStopped(t, async () => {
      // Written while the replica is down: only the primary can return it.
      positions = (await store.append(undefined, book1, 0n, bookEvent(ADDED, { BookID: BOOK_1 })))
        .sequenceNumbers;
      reports.length = 0;
      const read = await store.query(withEventualConsistency(), book1);
      expect(positionsOf(read)).toEqual(positions);
      expect(reports.at(-1)).toMatchObject({
        operation: 'eventstore.query',
        consistency: 'eventual',
        server: 'primary',
        fellBack: true,
        outcome: 'ok',
        eventCount: 1,
      });
      // One call, two servers: the tracing hook saw the failed replica (its circuit open) and the primary.
      expect(traces.at(-1)?.reports).toMatchObject([
        { server: 'replica', serverName: 'replica-1', outcome: 'error', circuit: 'open' },
        { server: 'primary', outcome: 'ok', fellBack: true },
      ]);
    });
    await eventualReadRecovers(async () => {
      reports.length = 0;
      const read = positionsOf(await store.query(withEventualConsistency(), book1));
      expect(reports.at(-1)).toMatchObject({ server: 'replica', fellBack: false });
      return read;
    }, positions);
  });

  test('a replica that accepts TCP but never answers: eventual reads reject with ReplicaUnavailableError, no hang', async () => {
    const silent = await startSilentServer();
    try {
      await suite.withHandle(silent.url, { connectTimeoutMs: 500 }, async (replica) => {
        const { store } = await suite.newStore('replicated', { replica });
        const error = await expectFailure(
          () => store.query(withEventualConsistency(), book1),
          'REPLICA_UNAVAILABLE',
        );
        expect(error.cause).toBeDefined();
        // The primary side of the same store works.
        const { sequenceNumbers } = await store.append(
          undefined,
          book1,
          0n,
          bookEvent(ADDED, { BookID: BOOK_1 }),
        );
        expect(positionsOf(await store.query(undefined, book1))).toEqual(sequenceNumbers);
      });
    } finally {
      await silent.close();
    }
  }, 20_000);

  test("a primary that accepts TCP but never answers, on a handle that would wait 6 s: every call ends within the store's bounds", async () => {
    const silent = await startSilentServer();
    const bounds = { connectTimeoutMs: 200, statementTimeoutMs: 200 };
    try {
      // Closing the handle waits for its connect attempts: 6 s is the handle's bound, not the store's.
      await suite.withHandle(silent.url, { connectTimeoutMs: 6_000 }, async (primary) => {
        const store = suite.adapter.fromSingle(primary, { tableName: freshTableName(), ...bounds });
        const calls: [string, () => Promise<unknown>, readonly string[]][] = [
          ['a strong read', () => store.query(withStrongConsistency(), book1), ['TIMEOUT']],
          ['an eventual read', () => store.query(withEventualConsistency(), book1), ['TIMEOUT']],
          // Refused before sending, or not answered within its bound (unknown: retryable, the event has an id).
          [
            'an append',
            () =>
              store.append(
                undefined,
                book1,
                0n,
                buildStorableEvent({
                  type: ADDED,
                  occurredAt: new Date(),
                  payload: { BookID: BOOK_1 },
                  id: randomUUID(),
                }),
              ),
            ['CONNECTION_FAILED', 'TIMEOUT', 'APPEND_OUTCOME_UNKNOWN'],
          ],
        ];
        for (const [what, call, codes] of calls) {
          const started = performance.now();
          const error = await call().then(
            () => expect.fail(`${what} to a silent server succeeded`),
            (failure: unknown) => failure as { code?: string; retryable?: boolean },
          );
          expect(codes, `${what}: ${describeError(error)}`).toContain(error.code);
          expect(error.retryable, what).toBe(true);
          // The bound is 400 ms (+ 2 s for an append's cancel), below the handle's 6 s connect timeout.
          expect(performance.now() - started, what).toBeLessThan(5_000);
        }
      });
    } finally {
      await silent.close();
    }
  }, 60_000);

  test('writes and strong reads that reach a read-only server (replica given as primary) fail with ReadOnlyPrimaryError', async () => {
    // The table exists on both servers (migrated on the real primary, replayed), then a store is built swapped.
    const { tableName, table } = await suite.newStore('single');
    await suite.cluster.waitForReplay();
    const swapped = await suite.newStore('replicated', {
      tableName,
      migrate: false,
      primary: suite.replica,
      replica: suite.primary,
    });
    const error = await expectFailure(
      () => swapped.store.append(undefined, book1, 0n, bookEvent(ADDED, { BookID: BOOK_1 })),
      'READ_ONLY_PRIMARY',
    );
    expect(error.message).toMatch(/swap/i);
    // A strong read answered by a standby could be stale: refused the same way, in the same round trip.
    await expectFailure(() => swapped.store.query(withStrongConsistency(), book1), 'READ_ONLY_PRIMARY');
    await expectFailure(() => swapped.store.query(undefined, book1), 'READ_ONLY_PRIMARY');
    const single = suite.adapter.fromSingle(suite.replica, { tableName });
    await expectFailure(
      () => single.append(undefined, book1, 0n, bookEvent(ADDED, { BookID: BOOK_1 })),
      'READ_ONLY_PRIMARY',
    );
    expect(await suite.raw.count(table)).toBe(0);
    // migrate() on the swapped store: a table that does not exist yet must be created, on a read-only server.
    const fresh = suite.adapter.fromPrimaryAndReplica(suite.replica, suite.primary, {
      tableName: freshTableName(),
    });
    await expectFailure(() => fresh.migrate(), 'READ_ONLY_PRIMARY');
    expect(await suite.raw.relationExists(fresh.tableName)).toBe(false);
  });
}
