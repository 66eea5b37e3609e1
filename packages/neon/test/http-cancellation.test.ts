import {
  buildEventFilter,
  buildStorableEvent,
  type EventStore,
  isEventStoreError,
  P,
  withSignal,
  withTimeout,
} from '@es/core';
import { fromPgPool } from '@es/pg';
import { type Cluster, startCluster } from '@es/testing';
import { neon, neonConfig } from '@neondatabase/serverless';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromNeonHttp } from '../src/index.js';
import { type NeonHttpStandIn, startNeonHttpStandIn } from './http-standin.js';

/**
 * What an abort does over HTTP, against our stand-in (which cancels like Neon's proxy, per its source): a
 * query settles at once, and the server cancels the statement when it sees the request closed, a moment
 * LATER. Because of that moment an append is not aborted at all: it reports what the database did. The
 * conformance `cancellation` group is skipped for HTTP for the same reason.
 */
const filter = buildEventFilter().matching().allPredicatesOf(P('BookID', 'b-1')).finalize();
const event = () =>
  buildStorableEvent({ type: 'BookCopyLentToReader', occurredAt: new Date(), payload: { BookID: 'b-1' } });

describe('neon HTTP: cancellation', () => {
  let cluster: Cluster;
  let standIn: NeonHttpStandIn;
  let raw: pg.Pool;
  let store: EventStore;
  /** The `signal` given to each fetch of the driver, in order. */
  const fetched: (AbortSignal | undefined)[] = [];

  beforeAll(async () => {
    cluster = await startCluster();
    standIn = await startNeonHttpStandIn();
    neonConfig.fetchEndpoint = standIn.fetchEndpoint;
    neonConfig.fetchFunction = (url: string, init: RequestInit) => {
      fetched.push(init.signal ?? undefined);
      return fetch(url, init);
    };
    raw = new pg.Pool({ connectionString: cluster.primaryUrl, connectionTimeoutMillis: 5000 });
    raw.on('error', () => {});
    await fromPgPool(raw, { tableName: 'http_cancel' }).migrate();
    store = fromNeonHttp(neon(cluster.primaryUrl), { tableName: 'http_cancel' });
  });

  afterAll(async () => {
    await raw?.end();
    await standIn?.close();
    await cluster?.stop();
  });

  const count = async () =>
    Number((await raw.query('SELECT count(*)::int AS n FROM http_cancel')).rows[0]?.n ?? Number.NaN);
  const waitersOf = async (pid: number) =>
    (await raw.query('SELECT pid FROM pg_stat_activity WHERE $1::int = ANY (pg_blocking_pids(pid))', [pid]))
      .rows.length;
  const until = async (check: () => Promise<boolean>) => {
    const deadline = Date.now() + 10_000;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error('timed out waiting');
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  };

  it('the context signal goes to fetch; an already-aborted one sends no request', async () => {
    fetched.length = 0;
    const controller = new AbortController();
    await store.query(withSignal(undefined, controller.signal), filter);
    await store.query(undefined, filter);
    expect(fetched).toEqual([expect.any(AbortSignal), undefined]);
    controller.abort();
    await expect(
      store.append(withSignal(undefined, controller.signal), filter, 0n, event()),
    ).rejects.toMatchObject({
      code: 'ABORTED',
    });
    expect(fetched).toHaveLength(2);
  });

  /** Holds an ACCESS EXCLUSIVE lock on the table while `during(holderPid)` runs, then rolls back. */
  const whileLocked = async (during: (pid: number) => Promise<void>) => {
    const holder = await raw.connect();
    try {
      const { pid } = (await holder.query('SELECT pg_backend_pid() AS pid')).rows[0] as { pid: number };
      await holder.query('BEGIN');
      await holder.query('LOCK TABLE http_cancel IN ACCESS EXCLUSIVE MODE');
      await during(pid);
    } finally {
      await holder.query('ROLLBACK');
      holder.release();
    }
  };

  it('aborting an HTTP query that waits for a lock: AbortedError at once; the server cancels it after', async () => {
    await whileLocked(async (pid) => {
      const controller = new AbortController();
      const outcome = store
        .query(withSignal(undefined, controller.signal), filter)
        .catch((error: unknown) => error);
      await until(async () => (await waitersOf(pid)) > 0);
      controller.abort();
      expect(isEventStoreError(await outcome, 'ABORTED')).toBe(true);
      // The statement is still waiting on the server for a moment; then the cancel lands.
      await until(async () => (await waitersOf(pid)) === 0);
    });
    // The store works afterwards.
    await store.append(withTimeout(undefined, 5000), filter, 0n, event());
    expect(await count()).toBe(1);
    await raw.query('TRUNCATE http_cancel');
  });

  it('aborting an HTTP append does not abort it: it runs to the end and reports what the database did', async () => {
    let settled = false;
    let call: Promise<{ sequenceNumbers: readonly bigint[] }> | undefined;
    await whileLocked(async (pid) => {
      const controller = new AbortController();
      call = store.append(withSignal(undefined, controller.signal), filter, 0n, event()).finally(() => {
        settled = true;
      });
      await until(async () => (await waitersOf(pid)) > 0);
      controller.abort();
      // Still waiting on the server, and not reported as aborted: the abort did not cancel it.
      await until(async () => (await waitersOf(pid)) > 0);
      expect(settled).toBe(false);
    });
    expect(call).toBeDefined();
    const { sequenceNumbers } = await (call as NonNullable<typeof call>);
    expect(sequenceNumbers).toHaveLength(1);
    expect(await count()).toBe(1);
    await raw.query('TRUNCATE http_cancel');
  });
});
