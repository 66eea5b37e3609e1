import { describe, expect, it } from 'vitest';
import { AppendBatcher, type AppendOutcome } from './append-batcher.js';
import { appendRequest } from './append-request.js';
import { P } from './filter.js';
import { buildEventFilter } from './filter-builder.js';
import { buildStorableEvent } from './storable-event.js';

const request = (book: string) =>
  appendRequest(buildEventFilter().matching().allPredicatesOf(P('BookID', book)).finalize(), 0n, [
    buildStorableEvent({ type: 'Lent', occurredAt: new Date(0), payload: { BookID: book } }),
  ]);

const limits = { concurrency: 1, maxAppends: 64, maxKeys: 1024, stuckAfterMs: 60_000 };

/** A send that records batches and settles each when the test says so. */
function controlledSend() {
  const calls: {
    books: string[];
    signal: AbortSignal | undefined;
    settle: (result: AppendOutcome[] | Error) => void;
  }[] = [];
  const send = (batch: readonly ReturnType<typeof request>[], signal: AbortSignal | undefined) =>
    new Promise<AppendOutcome[]>((resolve, reject) => {
      const books = batch.map((item) => String(item.events[0]?.payload.BookID));
      calls.push({
        books,
        signal,
        settle: (result) => (result instanceof Error ? reject(result) : resolve(result)),
      });
    });
  const ok = (count: number) =>
    Array.from({ length: count }, (_, index) => ({ max: 0n, positions: [BigInt(index + 1)] }));
  return { send, calls, ok };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

describe('AppendBatcher', () => {
  it('sends at once when nothing is in flight, then the queued appends together', async () => {
    const { send, calls, ok } = controlledSend();
    const batcher = new AppendBatcher(send, limits);
    const first = batcher.submit(request('a'), undefined);
    const later = [batcher.submit(request('b'), undefined), batcher.submit(request('c'), undefined)];
    expect(calls.map((call) => call.books)).toEqual([['a']]);
    calls[0]?.settle(ok(1));
    await first;
    await tick();
    expect(calls.map((call) => call.books)).toEqual([['a'], ['b', 'c']]);
    calls[1]?.settle(ok(2));
    expect((await Promise.all(later)).map((outcome) => outcome.positions)).toEqual([[1n], [2n]]);
  });

  it('drops an append aborted while it waits in the queue', async () => {
    const { send, calls, ok } = controlledSend();
    const batcher = new AppendBatcher(send, limits);
    const controller = new AbortController();
    const first = batcher.submit(request('a'), undefined);
    const aborted = batcher.submit(request('b'), controller.signal);
    const kept = batcher.submit(request('c'), undefined);
    controller.abort(new Error('gone'));
    await expect(aborted).rejects.toThrow('gone');
    calls[0]?.settle(ok(1));
    await first;
    await tick();
    expect(calls.map((call) => call.books)).toEqual([['a'], ['c']]);
    calls[1]?.settle(ok(1));
    await kept;
  });

  it('cancels a batch in flight when one of its appends aborts, and runs the others again', async () => {
    const { send, calls, ok } = controlledSend();
    const batcher = new AppendBatcher(send, limits);
    const blocker = batcher.submit(request('x'), undefined);
    const controller = new AbortController();
    const aborted = batcher.submit(request('a'), controller.signal);
    const other = batcher.submit(request('b'), undefined);
    calls[0]?.settle(ok(1));
    await blocker;
    await tick();
    expect(calls[1]?.books).toEqual(['a', 'b']);
    controller.abort(new Error('stop'));
    expect(calls[1]?.signal?.aborted).toBe(true);
    calls[1]?.settle(new Error('canceling statement due to user request'));
    await expect(aborted).rejects.toThrow('stop');
    await tick();
    expect(calls[2]?.books).toEqual(['b']);
    calls[2]?.settle(ok(1));
    await expect(other).resolves.toMatchObject({ positions: [1n] });
  });

  it('runs the appends of a failed batch one by one, so that one bad append fails alone', async () => {
    const { send, calls, ok } = controlledSend();
    const batcher = new AppendBatcher(send, limits);
    const blocker = batcher.submit(request('x'), undefined);
    const results = Promise.allSettled([
      batcher.submit(request('a'), undefined),
      batcher.submit(request('b'), undefined),
    ]);
    calls[0]?.settle(ok(1));
    await blocker;
    await tick();
    calls[1]?.settle(Object.assign(new Error('out of shared memory'), { code: '53200' }));
    await tick();
    expect(calls[2]?.books).toEqual(['a']);
    calls[2]?.settle(new Error('a is bad'));
    await tick();
    expect(calls[3]?.books).toEqual(['b']);
    calls[3]?.settle(ok(1));
    expect((await results).map((outcome) => outcome.status)).toEqual(['rejected', 'fulfilled']);
  });

  it('never runs a batch again after a lost connection: it may have committed', async () => {
    const { send, calls, ok } = controlledSend();
    const batcher = new AppendBatcher(send, limits);
    const blocker = batcher.submit(request('x'), undefined);
    const results = [batcher.submit(request('a'), undefined), batcher.submit(request('b'), undefined)];
    calls[0]?.settle(ok(1));
    await blocker;
    await tick();
    calls[1]?.settle(Object.assign(new Error('Connection terminated unexpectedly'), { code: 'ECONNRESET' }));
    const settled = await Promise.allSettled(results);
    expect(settled.map((outcome) => outcome.status)).toEqual(['rejected', 'rejected']);
    expect(calls).toHaveLength(2);
  });

  it('keeps appends whose boundaries touch in separate batches, and starts the next batch past a stuck one', async () => {
    const { send, calls, ok } = controlledSend();
    const batcher = new AppendBatcher(send, { ...limits, stuckAfterMs: 5 });
    const stuck = batcher.submit(request('x'), undefined);
    const same = [batcher.submit(request('a'), undefined), batcher.submit(request('a'), undefined)];
    // The batch of x is never settled until the end: past stuckAfterMs the next batches start anyway,
    // and the two appends on book a go in batches of their own.
    while (calls.length < 3) await new Promise((resolve) => setTimeout(resolve, 2));
    expect(calls.map((call) => call.books)).toEqual([['x'], ['a'], ['a']]);
    for (const call of calls) call.settle(ok(1));
    await Promise.all([stuck, ...same]);
  });

  it('sends the next appends of the callers a batch answered together, in batches in flight of like size', async () => {
    // 16 callers append 12 times each, one append after another, as the store's callers do (a few awaits
    // between an answer and the next append); the server answers each batch after a millisecond.
    const sizes = async (concurrency: number) => {
      const batches: number[] = [];
      const batcher = new AppendBatcher(
        async (batch) => {
          batches.push(batch.length);
          await new Promise((resolve) => setTimeout(resolve, 1));
          return batch.map(() => ({ max: 0n, positions: [1n] }));
        },
        { ...limits, concurrency },
      );
      const caller = async (index: number) => {
        for (let turn = 0; turn < 12; turn++) {
          await batcher.submit(request(`book-${index}-${turn}`), undefined);
          await Promise.resolve();
          await Promise.resolve();
        }
      };
      await Promise.all(Array.from({ length: 16 }, (_, index) => caller(index)));
      return batches;
    };
    // One batch in flight: once the first (alone) is answered, every batch carries all 16 callers (until
    // the first caller is done).
    expect((await sizes(1)).slice(1, 12)).toEqual(Array.from({ length: 11 }, () => 16));
    // Two: past the first few, no caller goes alone while the others go together (before: 1 and 15).
    const two = await sizes(2);
    expect(two.reduce((sum, size) => sum + size, 0)).toBe(16 * 12);
    expect(Math.min(...two.slice(6))).toBeGreaterThanOrEqual(4);
  });
});
