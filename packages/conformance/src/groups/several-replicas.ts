import {
  buildEventFilter,
  type EventStore,
  lsnPosition,
  type OperationReport,
  P,
  withEventualConsistency,
} from '@es/core';
import { expect, type TestContext } from 'vitest';
import { positionsOf } from '../expectations.js';
import { ADDED, BOOK_1, bookEvent } from '../fixtures.js';
import { RawDatabase, waitUntil } from '../raw-database.js';
import type { ConformanceSuite, RegisterTest } from '../suite-context.js';

/**
 * SPEC §5, several replicas: reads spread over the healthy replicas; a replica that fails opens its circuit
 * and is skipped until a probe finds it back; `replicaFallback: 'next-replica'`. With WAL replay paused on
 * the second replica only, a fresh event is on the first and not the second: what a read returns tells
 * which replica answered, independently of the store's own reports.
 */
const book1 = buildEventFilter().matching().allPredicatesOf(P('BookID', BOOK_1)).finalize();
const eventual = withEventualConsistency();

/** The outcome of each of `count` eventual reads in a row: `ok`, or the error's code. */
async function readOutcomes(store: EventStore, count: number): Promise<string[]> {
  const outcomes: string[] = [];
  for (let read = 0; read < count; read++) {
    outcomes.push(
      await store.query(eventual, book1).then(
        () => 'ok',
        (error) => error.code,
      ),
    );
  }
  return outcomes;
}

/** Waits until the probe has closed replica-2's circuit, then checks that two reads go to both replicas. */
async function servesAgain(store: EventStore, reports: OperationReport[]): Promise<void> {
  await waitUntil(
    async () => (await store.replicationStatus())[1]?.circuit === 'closed',
    "the probe has closed replica-2's circuit",
  );
  reports.length = 0;
  await store.query(eventual, book1);
  await store.query(eventual, book1);
  expect(reports.map((report) => report.serverName).sort()).toEqual(['replica-1', 'replica-2']);
}

export function severalReplicas<H>(suite: ConformanceSuite<H>, test: RegisterTest): void {
  const needTwo = (t: TestContext) => {
    if (!suite.adapter.fromPrimaryAndReplicas) t.skip('the adapter has no fromPrimaryAndReplicas');
    if (suite.cluster.replicaUrls.length < 2) t.skip('this cluster has one replica');
  };

  test('eventual reads spread over the replicas in turn, each reported by its name', async (t) => {
    needTwo(t);
    const { store, reports } = await suite.newStore('replicas', { replicaNames: ['east', 'west'] });
    const old = await store.append(undefined, book1, 0n, bookEvent(ADDED, { BookID: BOOK_1 }));
    await suite.cluster.waitForReplay();
    await suite.cluster.pauseReplay(1);
    try {
      const fresh = await store.append(
        undefined,
        book1,
        old.sequenceNumbers[0] ?? 0n,
        bookEvent(ADDED, { BookID: BOOK_1 }),
      );
      await waitUntil(
        async () => (await suite.rawReplica.count(store.tableName)) === 2,
        'the first replica has replayed the fresh event',
      );
      reports.length = 0;
      const seen = [];
      for (let read = 0; read < 4; read++) seen.push(positionsOf(await store.query(eventual, book1)).length);
      const names = reports.map((report) => report.serverName);
      expect(new Set(names)).toEqual(new Set(['east', 'west']));
      expect(names.slice(2)).toEqual(names.slice(0, 2));
      // What each read saw matches the replica it was reported on: east has the fresh event, west not.
      expect(seen).toEqual(names.map((name) => (name === 'east' ? 2 : 1)));
      expect(fresh.sequenceNumbers).toHaveLength(1);
    } finally {
      await suite.cluster.resumeReplay(1);
    }
    expect((await store.replicationStatus()).map(({ name, circuit }) => [name, circuit])).toEqual([
      ['east', 'closed'],
      ['west', 'closed'],
    ]);
  });

  test('replicationStatus() reports every replica as the servers see themselves', async (t) => {
    needTwo(t);
    const { store } = await suite.newStore('replicas', { replicaNames: ['east', 'west'] });
    await store.append(undefined, book1, 0n, bookEvent(ADDED, { BookID: BOOK_1 }));
    await suite.cluster.waitForReplay();
    const statuses = await store.replicationStatus();
    const raws = suite.cluster.replicaUrls.map((url) => new RawDatabase(url));
    try {
      expect(statuses.map(({ name }) => name)).toEqual(['east', 'west']);
      for (const [index, status] of statuses.entries()) {
        const [own] = await (raws[index] as RawDatabase).query<{ recovery: boolean; replayed: string }>(
          'SELECT pg_is_in_recovery() AS recovery, pg_last_wal_replay_lsn()::text AS replayed',
        );
        expect(status).toMatchObject({ reachable: true, inRecovery: own?.recovery, circuit: 'closed' });
        // Asked after the store's status: the server's own position is the same or later, never earlier.
        expect(lsnPosition(status.replayLsn as string)).toBeLessThanOrEqual(
          lsnPosition(own?.replayed as string),
        );
        expect(status.lagBytes).toBeGreaterThanOrEqual(0n);
      }
    } finally {
      await Promise.all(raws.map((raw) => raw.end()));
    }
  });

  test('a stopped replica opens its circuit: reads use the others; once it is back a probe closes it', async (t) => {
    needTwo(t);
    if (!suite.cluster.canStopReplica) t.skip('this cluster cannot stop a replica');
    const { store, reports } = await suite.newStore('replicas');
    await suite.cluster.stopReplica(1);
    try {
      const outcomes = await readOutcomes(store, 6);
      // At most the first read that reached the stopped replica fails; every later one is served by replica-1.
      expect(outcomes.filter((outcome) => outcome !== 'ok')).toEqual(
        outcomes.includes('REPLICA_UNAVAILABLE') ? ['REPLICA_UNAVAILABLE'] : [],
      );
      expect(reports.slice(-4).map((report) => report.serverName)).toEqual(Array(4).fill('replica-1'));
      expect((await store.replicationStatus())[1]).toMatchObject({ name: 'replica-2', reachable: false });
      expect((await store.replicationStatus())[1]?.circuit).not.toBe('closed');
    } finally {
      await suite.cluster.startReplica(1);
    }
    await servesAgain(store, reports);
    await store.close();
  });

  test('bounded staleness: a replica further behind than maxLagMs is skipped; with none fresh, the primary answers or ReplicaLagError', async (t) => {
    needTwo(t);
    const bound = withEventualConsistency(undefined, { maxLagMs: 300 });
    const { store, reports, table, tableName } = await suite.newStore('replicas');
    const failing = (await suite.newStore('replicas', { tableName, migrate: false, onStaleRead: 'error' }))
      .store;
    const first = await store.append(undefined, book1, 0n, bookEvent(ADDED, { BookID: BOOK_1 }));
    await suite.cluster.waitForReplay();
    const behind = async (index: number) =>
      waitUntil(
        async () => ((await store.replicationStatus())[index]?.lagMs ?? 0) > 300,
        `replica ${index + 1} replayed its last commit more than 300 ms ago`,
      );
    await suite.cluster.pauseReplay(1);
    try {
      const second = await store.append(
        undefined,
        book1,
        first.sequenceNumbers[0] ?? 0n,
        bookEvent(ADDED, { BookID: BOOK_1 }),
      );
      await behind(1);
      reports.length = 0;
      for (let read = 0; read < 4; read++) await store.query(bound, book1);
      expect(reports.map((report) => report.serverName)).toEqual(Array(4).fill('replica-1'));
      await suite.cluster.pauseReplay(0);
      try {
        await store.append(
          undefined,
          book1,
          second.sequenceNumbers[0] ?? 0n,
          bookEvent(ADDED, { BookID: BOOK_1 }),
        );
        // Replica 1 held everything up to the third append's commit: it becomes too stale as time goes on.
        let read: Awaited<ReturnType<typeof store.query>> | undefined;
        await waitUntil(async () => {
          reports.length = 0;
          read = await store.query(bound, book1);
          return reports[0]?.fellBack === true;
        }, 'the store reads the primary once no replica is within 300 ms');
        expect(reports.map(({ serverName, fellBack }) => ({ serverName, fellBack }))).toEqual([
          { serverName: 'primary', fellBack: true },
        ]);
        expect(
          positionsOf(read as NonNullable<typeof read>),
          'the primary has all three events',
        ).toHaveLength(3);
        await expect(failing.query(bound, book1)).rejects.toMatchObject({
          code: 'REPLICA_LAG',
          maxLagMs: 300,
        });
        const unbounded = positionsOf(await store.query(eventual, book1)).length;
        expect([1, 2], 'without a bound a replica answers, which lacks the third event').toContain(unbounded);
      } finally {
        await suite.cluster.resumeReplay(0);
      }
    } finally {
      await suite.cluster.resumeReplay(1);
    }
    expect(await suite.raw.count(table)).toBe(3);
    await Promise.all([store.close(), failing.close()]);
  });

  test('a stalled replica (accepts, never answers) opens its circuit after replicaTimeoutMs; reads go on; unstalled, it serves again', async (t) => {
    needTwo(t);
    if (!suite.cluster.canStopReplica) t.skip('this cluster cannot stall a replica');
    const { store, reports } = await suite.newStore('replicas', { replicaTimeoutMs: 400 });
    await suite.cluster.stallReplica(1);
    try {
      const outcomes = await readOutcomes(store, 6);
      const reads = reports.filter((report) => report.operation === 'eventstore.query');
      const failed = reads.filter((report) => report.outcome === 'error');
      // The one read that reached the stalled replica ended when its bound did, not later.
      expect(failed.map((report) => [report.serverName, report.errorCode])).toEqual([
        ['replica-2', 'REPLICA_UNAVAILABLE'],
      ]);
      expect(
        failed[0]?.durationMs,
        'it ended when its bound did (timers may fire a ms early)',
      ).toBeGreaterThanOrEqual(390);
      expect(outcomes.filter((outcome) => outcome === 'ok')).toHaveLength(5);
      expect(reads.slice(-4).map((report) => report.serverName)).toEqual(Array(4).fill('replica-1'));
    } finally {
      await suite.cluster.unstallReplica(1);
    }
    await servesAgain(store, reports);
    await store.close();
  });

  test("replicaFallback 'next-replica': a read whose replica is stopped is served by the next one", async (t) => {
    needTwo(t);
    if (!suite.cluster.canStopReplica) t.skip('this cluster cannot stop a replica');
    const { store, reports } = await suite.newStore('replicas', { replicaFallback: 'next-replica' });
    await suite.cluster.stopReplica(0);
    try {
      for (let read = 0; read < 4; read++) await store.query(eventual, book1);
    } finally {
      await suite.cluster.startReplica(0);
    }
    const reads = reports.filter((report) => report.operation === 'eventstore.query');
    const served = reads.filter((report) => report.outcome === 'ok').map((report) => report.serverName);
    expect(served).toEqual(Array(4).fill('replica-2'));
    expect(reads.filter((report) => report.outcome === 'error').map((report) => report.errorCode)).toEqual([
      'REPLICA_UNAVAILABLE',
    ]);
    await store.close();
  });
}
