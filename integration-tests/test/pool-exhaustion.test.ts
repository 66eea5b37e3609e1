import {
  buildEventFilter,
  buildStorableEvent,
  isEventStoreError,
  P,
  withEventualConsistency,
  withStrongConsistency,
} from '@es/core';
import { fromPgPool, fromPgPoolAndReplica } from '@es/pg';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { freshTable, pool, useCluster } from './helpers.js';

/**
 * A pool with no free connection (every client checked out elsewhere): calls fail with a typed, retryable
 * error that names the pool, an append so refused is definite (nothing stored, not an unknown outcome),
 * and an eventual read whose replica pool is full falls back to the primary when `replicaFallback` allows.
 */
const book = buildEventFilter().matching().allPredicatesOf(P('BookID', 'b-1')).finalize();
const event = () =>
  buildStorableEvent({ type: 'BookAdded', occurredAt: new Date(), payload: { BookID: 'b-1' } });

/** A pool of one connection that gives up waiting for it after 200 ms, with that connection taken. */
async function fullPool(url: string) {
  const created = new pg.Pool({ connectionString: url, max: 1, connectionTimeoutMillis: 200 });
  created.on('error', () => {});
  const held = await created.connect();
  return {
    pool: created,
    free: async () => {
      held.release();
      await created.end();
    },
  };
}

const caught = (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (error: unknown) => error,
  );

describe('pool exhaustion maps to a typed, retryable error that names the pool', () => {
  const cluster = useCluster();

  it("strong reads and appends on a full primary pool: CONNECTION_FAILED, retryable, naming the primary's pool; nothing stored", async () => {
    const tableName = freshTable('pool_full');
    const direct = pool(cluster().primaryUrl);
    await fromPgPool(direct, { tableName }).migrate();
    const full = await fullPool(cluster().primaryUrl);
    try {
      const store = fromPgPool(full.pool, { tableName });
      for (const call of [
        store.query(withStrongConsistency(), book),
        store.append(withStrongConsistency(), book, 0n, event()),
      ]) {
        const error = await caught(call);
        expect(isEventStoreError(error, 'CONNECTION_FAILED'), String(error)).toBe(true);
        expect(error).toMatchObject({ retryable: true });
        expect((error as Error).message).toMatch(/the primary's pool had no free connection/);
      }
      const { rows } = await direct.query(`SELECT count(*)::int AS n FROM "${tableName}"`);
      expect(rows[0].n, 'the refused append stored nothing').toBe(0);
    } finally {
      await full.free();
      await direct.end();
    }
  });

  it("an eventual read on a full replica pool: REPLICA_UNAVAILABLE, or the primary's answer with replicaFallback: 'primary'", async () => {
    const tableName = freshTable('pool_full');
    const primary = pool(cluster().primaryUrl);
    await fromPgPool(primary, { tableName }).migrate();
    await cluster().waitForReplay();
    const full = await fullPool(cluster().replicaUrl);
    try {
      const failing = fromPgPoolAndReplica(primary, full.pool, { tableName });
      const error = await caught(failing.query(withEventualConsistency(), book));
      expect(isEventStoreError(error, 'REPLICA_UNAVAILABLE'), String(error)).toBe(true);
      expect(error).toMatchObject({ retryable: true });
      const reports: { server: string; fellBack: boolean }[] = [];
      const falling = fromPgPoolAndReplica(primary, full.pool, {
        tableName,
        replicaFallback: 'primary',
        hooks: { onOperation: (report) => reports.push(report) },
      });
      await expect(falling.query(withEventualConsistency(), book)).resolves.toMatchObject({ events: [] });
      expect(reports.map(({ server, fellBack }) => [server, fellBack])).toEqual([
        ['replica', false],
        ['primary', true],
      ]);
      await Promise.all([failing.close(), falling.close()]);
    } finally {
      await full.free();
      await primary.end();
    }
  });
});
