import { buildStorableEvent, withStrongConsistency } from '@es/core';
import { startFaultProxy } from '@es/testing';
import { expect } from 'vitest';
import { expectFailure, positionsOf } from '../expectations.js';
import type { ConformanceSuite, RegisterTest } from '../suite-context.js';
import { book1, loans, reader1, storedAt } from './idempotent-appends.js';

/** SPEC §5 (idempotent appends): the reply of an append is lost after its COMMIT (a TCP proxy cuts it). */
export function unknownOutcomes<H>(suite: ConformanceSuite<H>, test: RegisterTest): void {
  test('a reply lost after COMMIT: AppendOutcomeUnknownError, and the retry with the same ids returns the positions once', async () => {
    const { store: direct, tableName, table } = await suite.newStore('single');
    const proxy = await startFaultProxy(suite.cluster.primaryUrl);
    const handle = await suite.adapter.connect(proxy.url, { connectTimeoutMs: 5_000 });
    try {
      const { store } = await suite.newStore('single', { tableName, migrate: false, primary: handle });
      await store.query(undefined, book1); // a connection that is open, so the cut falls on the append
      for (const identified of [true, false]) {
        const events = identified ? loans() : loans().map(({ id: _, ...event }) => buildStorableEvent(event));
        const before = await suite.raw.count(table);
        const { maxSequenceNumber } = await direct.query(withStrongConsistency(), reader1);
        const cut = proxy.cutNextReply();
        const error = await expectFailure(
          () => store.append(undefined, reader1, maxSequenceNumber, ...events),
          'APPEND_OUTCOME_UNKNOWN',
        );
        await cut;
        expect(error.retryable, 'retryable exactly when every event has an id').toBe(identified);
        expect(error.message).toMatch(/may have committed/);
        // The reply was cut after the commit: the events are there, once.
        expect(await suite.raw.count(table)).toBe(before + events.length);
        if (!identified) continue;
        const stored = await storedAt(
          suite,
          table,
          events.map((event) => event.id),
        );
        const retried = await retry(() => store.append(undefined, reader1, maxSequenceNumber, ...events));
        expect(retried.sequenceNumbers).toEqual(stored);
        expect(await suite.raw.count(table)).toBe(before + events.length);
        expect(positionsOf(await store.query(withStrongConsistency(), reader1)).slice(-2)).toEqual(stored);
      }
    } finally {
      await suite.adapter.disconnect(handle);
      await proxy.close();
    }
  });
}

/** Retries `call` while it fails with a retryable error (the handle may need a moment to reconnect). */
async function retry<T>(call: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (attempt >= 20 || (error as { retryable?: unknown }).retryable !== true) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}
