/**
 * Requirement: "A replica read cancelled by 'conflict with recovery' surfaces as a typed, retryable error".
 *
 * On a replica with `max_standby_streaming_delay = 0` and `hot_standby_feedback = off`, for pg and
 * postgres.js, the replica cancels (no sleeps: every wait polls the servers):
 * - an eventual `queryStream` whose open cursor's snapshot still sees rows that a VACUUM on the primary
 *   removed (a snapshot conflict; the session is idle in transaction between batches, so the server
 *   terminates it: FATAL "terminating connection due to conflict with recovery"). postgres.js streams
 *   read keyset pages instead of holding a cursor, so there the same steps must end with every event;
 * - an eventual `query` that holds the events table's AccessShareLock while it waits for an index the
 *   replay holds (a REINDEX in an open transaction on the primary), when that transaction then locks the
 *   table (a lock conflict: ERROR "canceling statement due to conflict with recovery").
 * Each must reject with `ReplicationConflictError` (retryable, naming the replica), and the store must
 * still read from that replica afterwards.
 */
import {
  buildEventFilter,
  buildStorableEvent,
  type OperationReport,
  P,
  ReplicationConflictError,
  type StoredEvent,
  withEventualConsistency,
} from '@es/core';
import type pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { ADAPTERS } from './adapters.js';
import { freshTable, pool, useCluster } from './helpers.js';

const everything = buildEventFilter()
  .matching()
  .anyEventTypeOf('BookCopyAdded')
  .andAllPredicatesOf(P('Shelf', 's-1'))
  .finalize();
const events = Array.from({ length: 20 }, (_, n) =>
  buildStorableEvent({ type: 'BookCopyAdded', occurredAt: new Date(), payload: { Shelf: 's-1', n } }),
);

/** What was thrown, and what it wraps: shown in full by a failing `toMatchObject`. */
function described(error: unknown) {
  const { name, code, retryable, replica, cause } = (error ?? {}) as Record<string, unknown>;
  const inner = (cause ?? {}) as Record<string, unknown>;
  const causeOf = { name: inner.name, code: inner.code, message: inner.message, errno: inner.errno };
  return { name, code, retryable, replica, cause: causeOf };
}

function expectConflict(error: unknown) {
  expect(described(error)).toMatchObject({
    name: 'ReplicationConflictError',
    code: 'REPLICATION_CONFLICT',
    retryable: true,
    replica: 'replica-1',
  });
  expect(error).toBeInstanceOf(ReplicationConflictError);
}

/** Polls `sql` on `on` until its first row's `done` is true. */
async function until(on: pg.Pool, sql: string, params: unknown[] = [], timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await on.query(sql, params)).rows[0]?.done) {
    if (Date.now() > deadline) throw new Error(`timed out polling: ${sql}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe('a read the replica cancels for recovery', () => {
  const cluster = useCluster();

  beforeAll(async () => {
    const replica = pool(cluster().replicaUrl, 1);
    try {
      await replica.query('ALTER SYSTEM SET max_standby_streaming_delay = 0');
      await replica.query('ALTER SYSTEM SET hot_standby_feedback = off');
      await replica.query('SELECT pg_reload_conf()');
      const settings = "current_setting('max_standby_streaming_delay') = '0'";
      await until(
        replica,
        `SELECT ${settings} AND NOT current_setting('hot_standby_feedback')::bool AS done`,
      );
    } finally {
      await replica.end();
    }
  });

  describe.each(['pg', 'postgres.js'].map((name) => [name, ADAPTERS[name]]))('%s', (name, open) => {
    /** A store with 20 events on a fresh table, replayed on the replica; our own pools on both servers. */
    async function setUp() {
      const tableName = freshTable('conflict');
      const reports: OperationReport[] = [];
      if (!open) throw new Error('no such adapter');
      const app = open(cluster().primaryUrl, cluster().replicaUrl, {
        tableName,
        replicaTimeoutMs: 5_000,
        hooks: { onOperation: (report) => reports.push(report) },
      });
      const primary = pool(cluster().primaryUrl, 2);
      const replica = pool(cluster().replicaUrl, 1);
      await app.store.migrate();
      await app.store.append(undefined, everything, 0n, ...events);
      await primary.query(`CREATE TABLE ${tableName}_scratch (n int)`);
      await replay(primary);
      const readsFromReplica = async () => {
        reports.length = 0;
        const { events: read } = await app.store.query(withEventualConsistency(), everything);
        expect(read).toHaveLength(20);
        expect(reports).toMatchObject([{ serverName: 'replica-1', fellBack: false, outcome: 'ok' }]);
      };
      const close = () => Promise.all([app.close(), primary.end(), replica.end()]);
      return { tableName, store: app.store, primary, replica, readsFromReplica, close };
    }

    /** Waits until the replica has replayed everything the primary inserted into its WAL so far. */
    async function replay(primary: pg.Pool) {
      const { rows } = await primary.query('SELECT pg_current_wal_insert_lsn()::text AS lsn');
      // A commit flushes the WAL before it, also an open transaction's (its lock records): send it now.
      await primary.query('SELECT pg_current_xact_id()');
      await cluster().waitForReplay(rows[0].lsn, 20_000);
    }

    // postgres.js streams read keyset pages (its driver sets `cursorStreams: false`): see core's Driver.
    const pagesStreams = name === 'postgres.js';
    const streamCase = pagesStreams
      ? 'a paged stream across a VACUUM that removed rows its first page saw: every event, no conflict'
      : 'a stream whose snapshot sees rows a VACUUM removed rejects with ReplicationConflictError';
    it(streamCase, async () => {
      const { tableName, store, primary, readsFromReplica, close } = await setUp();
      try {
        const stream = store
          .queryStream(withEventualConsistency(), everything, { batchSize: 1 })
          [Symbol.asyncIterator]();
        expect((await stream.next()).value).toMatchObject({ sequenceNumber: 1n });

        await primary.query(`INSERT INTO ${tableName}_scratch SELECT generate_series(1, 100)`);
        await primary.query(`DELETE FROM ${tableName}_scratch`);
        await primary.query(`VACUUM ${tableName}_scratch`);
        await replay(primary);

        const rest: StoredEvent[] = [];
        // A stream that neither fails nor ends fails the test at its timeout (below).
        const failure = await (async () => {
          for (let step = await stream.next(); !step.done; step = await stream.next()) rest.push(step.value);
        })().then(
          () => undefined,
          (error: unknown) => error,
        );
        if (pagesStreams) {
          // Keyset pages, each its own statement and snapshot: no snapshot is held across the VACUUM, so
          // the replica has nothing to cancel, and the stream reads every event once.
          expect(failure).toBeUndefined();
          expect(rest.map((event) => event.sequenceNumber)).toEqual(
            Array.from({ length: 19 }, (_, n) => BigInt(n + 2)),
          );
        } else {
          // At most the batch fetched before the conflict is handed out; the next step rejects.
          expect(rest.length).toBeLessThanOrEqual(1);
          expectConflict(failure);
        }
        await readsFromReplica();
      } finally {
        await close();
      }
    }, 20_000);

    it('a query holding a lock the replay needs rejects with ReplicationConflictError', async () => {
      const { tableName, store, primary, replica, readsFromReplica, close } = await setUp();
      const locker = await primary.connect();
      try {
        const { rows } = await locker.query(
          'SELECT indexrelid::regclass::text AS name FROM pg_index WHERE indrelid = $1::regclass LIMIT 1',
          [tableName],
        );
        await locker.query('BEGIN');
        await locker.query(`REINDEX INDEX ${rows[0].name}`);
        await replay(primary);

        const read = store.query(withEventualConsistency(), everything).then(
          () => undefined,
          (error: unknown) => error,
        );
        // Planning it holds the table's AccessShareLock and waits for the index the replay holds.
        await until(
          replica,
          "SELECT count(*) = 1 AS done FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE $1",
          [`%${tableName}%`],
        );
        await locker.query(`LOCK TABLE ${tableName} IN ACCESS EXCLUSIVE MODE`);
        await replay(primary);
        expectConflict(await read);
        await locker.query('ROLLBACK');
        await replay(primary);
        await readsFromReplica();
      } finally {
        locker.release();
        await close();
      }
    });
  });
});
