import {
  buildEventFilter,
  type Context,
  type EventStoreErrorCode,
  isEventStoreError,
  P,
  withEventualConsistency,
  withSignal,
  withStrongConsistency,
  withTimeout,
} from '@es/core';
import { expect } from 'vitest';
import { describeError, expectFailure, settleWithin, track } from '../expectations.js';
import { BOOK_1, bookEvent, LENT } from '../fixtures.js';
import { waitUntil } from '../raw-database.js';
import type { ConformanceSuite, RegisterTest } from '../suite-context.js';

/**
 * SPEC §3.7: an aborted signal or a timeout fails query and append with a typed error and inserts
 * nothing. The slow path: a raw transaction holds `LOCK TABLE ... ACCESS EXCLUSIVE` on the test's table,
 * so any statement touching it waits. Nothing is counted before the lock holder has rolled back and every
 * backend that was waiting has finished: a statement the store gave up on but did not cancel on the server
 * would otherwise commit later, unseen.
 */

/** A cancelled call may take this long to settle before the test calls it a hang (not a speed claim). */
const HANG_GUARD_MS = 15_000;

const filter = buildEventFilter().matching().allPredicatesOf(P('BookID', BOOK_1)).finalize();
const event = () => bookEvent(LENT, { BookID: BOOK_1 });

export function cancellation<H>(suite: ConformanceSuite<H>, test: RegisterTest): void {
  /** Runs `call` while the table is locked; `abortWhenWaiting` fires once the call is seen waiting for the lock. */
  const whileLocked = async (table: string, call: () => Promise<unknown>, abortWhenWaiting?: () => void) => {
    const holder = await suite.raw.begin();
    await holder.query(`LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`);
    let running: Promise<unknown> | undefined;
    let outcome: Awaited<ReturnType<typeof settleWithin>> = { status: 'pending' };
    let waiting: number[] = [];
    try {
      const tracked = track(call());
      running = tracked.promise;
      if (abortWhenWaiting) {
        await waitUntil(
          async () => tracked.settled() || (await suite.raw.waitingFor(holder.pid)).length > 0,
          'the call waits for the table lock',
        );
        abortWhenWaiting();
      }
      outcome = await settleWithin(running, HANG_GUARD_MS);
      waiting = await suite.raw.waitingFor(holder.pid);
    } finally {
      await holder.rollback();
    }
    // A call that hung settles now that the lock is gone; its outcome was already recorded as pending.
    if (outcome.status === 'pending') await running?.catch(() => {});
    await suite.raw.waitUntilIdle(waiting);
    return { outcome, count: await suite.raw.count(table) };
  };

  const expectCode = (outcome: Awaited<ReturnType<typeof settleWithin>>, code: EventStoreErrorCode) => {
    if (outcome.status === 'pending')
      expect.fail(`the call did not settle within ${HANG_GUARD_MS} ms after its signal fired`);
    if (outcome.status === 'fulfilled') expect.fail(`expected ${code}, but the call succeeded`);
    expect(
      isEventStoreError(outcome.reason, code),
      `expected ${code}, got ${describeError(outcome.reason)}`,
    ).toBe(true);
  };

  test('an already-aborted signal: query and append fail with AbortedError; nothing inserted', async () => {
    const { store, table } = await suite.newStore('replicated');
    const controller = new AbortController();
    controller.abort();
    const contexts: Context[] = [
      withSignal(undefined, controller.signal),
      withSignal(withStrongConsistency(), AbortSignal.abort()),
    ];
    for (const ctx of contexts) {
      await expectFailure(() => store.query(ctx, filter), 'ABORTED');
      await expectFailure(() => store.append(ctx, filter, 0n, event()), 'ABORTED');
    }
    await expectFailure(
      () => store.query(withSignal(withEventualConsistency(), controller.signal), filter),
      'ABORTED',
    );
    expect(await suite.raw.count(table)).toBe(0);
  });

  test('an expired timeout: query and append fail with TimeoutError; nothing inserted', async () => {
    const { store, table } = await suite.newStore('single');
    const ctx = withTimeout(undefined, 1);
    await waitUntil(async () => ctx.signal?.aborted === true, 'the 1 ms timeout has fired');
    await expectFailure(() => store.query(ctx, filter), 'TIMEOUT');
    await expectFailure(() => store.append(ctx, filter, 0n, event()), 'TIMEOUT');
    expect(await suite.raw.count(table)).toBe(0);
  });

  test('withTimeout(ctx, 1) on an append that waits for a lock: TimeoutError, nothing inserted', async () => {
    const { store, table } = await suite.newStore('single');
    const { outcome, count } = await whileLocked(table, () =>
      store.append(withTimeout(undefined, 1), filter, 0n, event()),
    );
    expectCode(outcome, 'TIMEOUT');
    expect(count).toBe(0);
  });

  test('withTimeout(ctx, 1) on an append through a cold handle (the timeout fires while connecting): TimeoutError', async () => {
    const { table, tableName } = await suite.newStore('single');
    await suite.withHandle(suite.cluster.primaryUrl, { connectTimeoutMs: 10_000 }, async (cold) => {
      const store = suite.adapter.fromSingle(cold, { tableName });
      const { outcome, count } = await whileLocked(table, () =>
        store.append(withTimeout(undefined, 1), filter, 0n, event()),
      );
      expectCode(outcome, 'TIMEOUT');
      expect(count).toBe(0);
    });
  });

  test('withTimeout(ctx, 300) on an append that waits for a lock: TimeoutError, nothing inserted', async () => {
    const { store, table } = await suite.newStore('single');
    const ctx = withTimeout(withStrongConsistency(), 300);
    const { outcome, count } = await whileLocked(table, () =>
      store.append(ctx, filter, 0n, event(), event()),
    );
    expectCode(outcome, 'TIMEOUT');
    expect(count).toBe(0);
  });

  test('withTimeout(ctx, 1) on a query that waits for a lock: TimeoutError', async () => {
    const { store, table } = await suite.newStore('single');
    const { outcome } = await whileLocked(table, () => store.query(withTimeout(undefined, 1), filter));
    expectCode(outcome, 'TIMEOUT');
  });

  test('aborting an append while it waits for a lock: AbortedError, nothing inserted', async () => {
    const { store, table } = await suite.newStore('single');
    const controller = new AbortController();
    const ctx = withSignal(undefined, controller.signal);
    const { outcome, count } = await whileLocked(
      table,
      () => store.append(ctx, filter, 0n, event()),
      () => controller.abort(),
    );
    expectCode(outcome, 'ABORTED');
    expect(count).toBe(0);
  });

  test('aborting a strong query while it waits for a lock: AbortedError; the store works afterwards', async () => {
    const { store, table } = await suite.newStore('single');
    const controller = new AbortController();
    const ctx = withSignal(withStrongConsistency(), controller.signal);
    const { outcome } = await whileLocked(
      table,
      () => store.query(ctx, filter),
      () => controller.abort(),
    );
    expectCode(outcome, 'ABORTED');
    // The cancelled call left no broken connection behind.
    const { sequenceNumbers } = await store.append(undefined, filter, 0n, event());
    expect((await store.query(undefined, filter)).maxSequenceNumber).toBe(sequenceNumbers[0]);
    expect(await suite.raw.count(table)).toBe(1);
  });
}
