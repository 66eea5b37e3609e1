import {
  type EventStoreError,
  type EventStoreErrorCode,
  isEventStoreError,
  type QueryResult,
} from '@es/core';
import { expect } from 'vitest';

/** A short description of anything thrown, for assertion messages. */
export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return `${error.name}${typeof code === 'string' ? ` [${code}]` : ''}: ${error.message}`;
  }
  return `a non-Error value: ${String(error)}`;
}

/**
 * Runs `work` (sync throw or rejected promise alike) and expects an `EventStoreError` with `code`.
 * Matching on `code` (not `instanceof`) lets an adapter bundle its own copy of `@es/core`.
 */
export async function expectFailure(
  work: () => unknown,
  code: EventStoreErrorCode,
): Promise<EventStoreError & { code: typeof code }> {
  let outcome: { ok: true; value: unknown } | { ok: false; error: unknown };
  try {
    outcome = { ok: true, value: await work() };
  } catch (error) {
    outcome = { ok: false, error };
  }
  if (outcome.ok) {
    expect.fail(`expected an EventStoreError with code ${code}, but the call succeeded`);
  }
  const { error } = outcome;
  expect(isEventStoreError(error, code), `expected code ${code}, got ${describeError(error)}`).toBe(true);
  return error as EventStoreError & { code: typeof code };
}

/** Like `expectFailure`, but the call must throw synchronously (constructor validation). */
export function expectThrowsNow(work: () => unknown, code: EventStoreErrorCode): EventStoreError {
  let thrown: unknown;
  let returned: unknown;
  try {
    returned = work();
  } catch (error) {
    thrown = error;
  }
  if (thrown === undefined) {
    // A rejected promise is not construction-time validation; keep it from surfacing as unhandled.
    if (returned instanceof Promise) returned.catch(() => {});
    expect.fail(`expected a synchronous ${code} error at construction, but nothing was thrown`);
  }
  expect(isEventStoreError(thrown, code), `expected code ${code}, got ${describeError(thrown)}`).toBe(true);
  return thrown as EventStoreError;
}

/** The conflict's fields, read structurally so that another copy of `@es/core` works too. */
export function conflictFields(error: unknown): { expected: unknown; actual: unknown } {
  const { expectedMaxSequenceNumber, actualMaxSequenceNumber } = error as {
    expectedMaxSequenceNumber?: unknown;
    actualMaxSequenceNumber?: unknown;
  };
  return { expected: expectedMaxSequenceNumber, actual: actualMaxSequenceNumber };
}

/** Positions of a query result. */
export function positionsOf(
  result: QueryResult | { events: readonly { sequenceNumber: bigint }[] },
): bigint[] {
  return result.events.map((event) => event.sequenceNumber);
}

/** Resolves with the settled outcome of `promise`, or `pending` if it has not settled within `ms` (a hang guard). */
export async function settleWithin<T>(
  promise: Promise<T>,
  ms: number,
): Promise<PromiseSettledResult<T> | { status: 'pending' }> {
  let timer: NodeJS.Timeout | undefined;
  const pending = new Promise<{ status: 'pending' }>((resolve) => {
    timer = setTimeout(() => resolve({ status: 'pending' }), ms);
  });
  const settled = promise.then(
    (value): PromiseFulfilledResult<T> => ({ status: 'fulfilled', value }),
    (reason: unknown): PromiseRejectedResult => ({ status: 'rejected', reason }),
  );
  try {
    return await Promise.race([settled, pending]);
  } finally {
    clearTimeout(timer);
  }
}

/** Tracks whether a promise has settled, without consuming its outcome. */
export function track<T>(promise: Promise<T>): { promise: Promise<T>; settled: () => boolean } {
  let done = false;
  promise.then(
    () => {
      done = true;
    },
    () => {
      done = true;
    },
  );
  return { promise, settled: () => done };
}
