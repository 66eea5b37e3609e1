import { buildEventFilter, lsnPosition, P, withEventualConsistency } from '@es/core';
import { expect } from 'vitest';
import { ADDED, BOOK_1, bookEvent } from '../fixtures.js';
import { RawDatabase, waitUntil } from '../raw-database.js';
import type { ConformanceSuite, RegisterTest } from '../suite-context.js';

/** SPEC §5: `store.replicationStatus()`, measured on the servers; `store.close()`. */

const book1 = buildEventFilter().matching().allPredicatesOf(P('BookID', BOOK_1)).finalize();
const LSN = /^[0-9A-F]+\/[0-9A-F]+$/;

export function replicationStatus<H>(suite: ConformanceSuite<H>, test: RegisterTest): void {
  test('a caught-up replica: reachable, in recovery, 0 bytes and 0 ms behind; a store without one: []', async () => {
    const { store } = await suite.newStore('replicated');
    await store.append(undefined, book1, 0n, bookEvent(ADDED, { BookID: BOOK_1 }));
    await suite.cluster.waitForReplay();
    const [status, ...others] = await store.replicationStatus();
    expect(others).toEqual([]);
    expect(status).toMatchObject({
      name: 'replica-1',
      reachable: true,
      inRecovery: true,
      lagBytes: 0n,
      lagMs: 0,
      circuit: 'closed',
    });
    expect(status?.replayLsn).toMatch(LSN);
    expect(await (await suite.newStore('single')).store.replicationStatus()).toEqual([]);
    expect(await (await suite.newStore('primary-only')).store.replicationStatus()).toEqual([]);
  });

  test('a replica whose replay is paused: the bytes it has not replayed are reported as lag', async () => {
    const { store } = await suite.newStore('replicated');
    await suite.cluster.waitForReplay();
    await suite.cluster.pauseReplay();
    try {
      await store.append(undefined, book1, 0n, bookEvent(ADDED, { BookID: BOOK_1 }));
      await suite.cluster.waitForReceive();
      const [status] = await store.replicationStatus();
      expect(status?.reachable).toBe(true);
      expect(status?.lagBytes).toBeGreaterThan(0n);
      expect(status?.lagMs).toBeGreaterThanOrEqual(0);
    } finally {
      await suite.cluster.resumeReplay();
    }
    await suite.cluster.waitForReplay();
    expect((await store.replicationStatus())[0]?.lagBytes).toBe(0n);
  });

  test("several replicas: each one's replay LSN, lag in bytes and lag in ms are what its own server says", async (t) => {
    if (!suite.adapter.fromPrimaryAndReplicas) t.skip('the adapter has no fromPrimaryAndReplicas');
    if (suite.cluster.replicaUrls.length < 2) t.skip('this cluster has one replica');
    const { store } = await suite.newStore('replicas', { replicaNames: ['east', 'west'] });
    const servers = suite.cluster.replicaUrls.slice(0, 2).map((url) => new RawDatabase(url));
    const replayed = async (server: RawDatabase) =>
      lsnPosition(
        (await server.query<{ lsn: string }>('SELECT pg_last_wal_replay_lsn()::text AS lsn'))[0]?.lsn ?? '',
      );
    await store.append(undefined, book1, 0n, bookEvent(ADDED, { BookID: BOOK_1 }));
    await suite.cluster.waitForReplay();
    await suite.cluster.pauseReplay(1);
    try {
      await store.append(undefined, book1, 1n, bookEvent(ADDED, { BookID: BOOK_1 }));
      await suite.cluster.waitForReceive();
      const before = lsnPosition(await suite.cluster.primaryLsn());
      await waitUntil(async () => (await replayed(servers[0] as RawDatabase)) >= before, 'east replayed');
      const [east, west, ...others] = await store.replicationStatus();
      const after = lsnPosition(await suite.cluster.primaryLsn());
      const westReplayed = await replayed(servers[1] as RawDatabase);
      const [own] = await (servers[1] as RawDatabase).query<{ ms: number }>(
        'SELECT (extract(epoch FROM now() - pg_last_xact_replay_timestamp()) * 1000)::float8 AS ms',
      );
      expect(others).toEqual([]);
      for (const status of [east, west]) {
        expect(status).toMatchObject({ reachable: true, inRecovery: true, circuit: 'closed' });
      }
      expect([east?.name, west?.name]).toEqual(['east', 'west']);
      // west is paused: its LSN does not move, and its lag is the primary's LSN (read around the call) minus it.
      expect(lsnPosition(west?.replayLsn ?? '')).toBe(westReplayed);
      expect(west?.lagBytes).toBeGreaterThanOrEqual(before - westReplayed);
      expect(west?.lagBytes).toBeLessThanOrEqual(after - westReplayed);
      expect(west?.lagBytes).toBeGreaterThan(0n);
      expect(west?.lagMs).toBeGreaterThan(0);
      expect(west?.lagMs).toBeLessThanOrEqual(Math.ceil(own?.ms ?? 0) + 1);
      // east has replayed everything up to `before`: at most what the primary wrote since is left.
      expect(lsnPosition(east?.replayLsn ?? '')).toBeGreaterThanOrEqual(before);
      expect(east?.lagBytes).toBeLessThanOrEqual(after - before);
    } finally {
      await suite.cluster.resumeReplay(1);
      await Promise.all(servers.map((server) => server.end()));
    }
    await suite.cluster.waitForReplay();
    expect((await store.replicationStatus()).map((status) => status.lagBytes)).toEqual([0n, 0n]);
  });

  test('a replica that is not one (the primary given as replica) is reported as not in recovery', async () => {
    const { store } = await suite.newStore('replicated', { replica: suite.primary });
    const [status] = await store.replicationStatus();
    expect(status).toMatchObject({ reachable: true, inRecovery: false });
  });

  test('an eventual read answered by a "replica" that is not in recovery is reported; it is logged once', async () => {
    const warnings: { message: string; replica: unknown }[] = [];
    const warn = (message: string, fields?: { replica?: unknown }) =>
      warnings.push({ message, replica: fields?.replica });
    const logger = { debug() {}, info() {}, warn, error() {} };
    const { store, reports } = await suite.newStore('replicated', { replica: suite.primary, logger });
    await store.append(undefined, book1, 0n, bookEvent(ADDED, { BookID: BOOK_1 }));
    reports.length = 0;
    const before = warnings.length; // migrate() may have seen it already (on the store that ran it)
    await store.query(withEventualConsistency(), book1);
    await store.query(withEventualConsistency(), book1);
    expect(reports.map((report) => [report.serverName, report.replicaNotInRecovery])).toEqual([
      ['replica-1', true],
      ['replica-1', true],
    ]);
    expect(warnings.length, 'warned at most once by the reads').toBeLessThanOrEqual(before + 1);
    expect(warnings.length).toBeGreaterThan(0);
    for (const warning of warnings) {
      expect(warning).toEqual({ message: expect.stringContaining('not in recovery'), replica: 'replica-1' });
    }
    // A real standby is not reported.
    const { store: replicated, reports: fine } = await suite.newStore('replicated');
    await replicated.append(undefined, book1, 0n, bookEvent(ADDED, { BookID: BOOK_1 }));
    await suite.cluster.waitForReplay();
    fine.length = 0;
    await replicated.query(withEventualConsistency(), book1);
    expect(fine).toMatchObject([{ server: 'replica', outcome: 'ok' }]);
    expect(fine[0]?.replicaNotInRecovery).toBeUndefined();
  });

  test("close() resolves, is idempotent, and leaves the caller's pools open", async () => {
    const { store } = await suite.newStore('replicated');
    await store.close();
    await store.close();
    // The pools are the suite's, shared by the next tests: a store on them still works.
    const { store: next } = await suite.newStore('replicated');
    expect((await next.query(undefined, book1)).events).toEqual([]);
  });
}
