import { buildEventFilter, P } from '@es/core';
import { expect } from 'vitest';
import { ADDED, BOOK_1, bookEvent } from '../fixtures.js';
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

  test('a replica that is not one (the primary given as replica) is reported as not in recovery', async () => {
    const { store } = await suite.newStore('replicated', { replica: suite.primary });
    const [status] = await store.replicationStatus();
    expect(status).toMatchObject({ reachable: true, inRecovery: false });
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
