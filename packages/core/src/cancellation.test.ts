import { describe, expect, it, vi } from 'vitest';
import { acquireUnlessAborted, isAcquireFailure, runCancellable } from './cancellation.js';
import { failedBeforeSending, isConnectionFailure } from './error-mapper.js';

/** A promise with its resolver, to order steps without timers. */
function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((done) => {
    resolve = done;
  });
  return { promise, resolve };
}

describe('acquireUnlessAborted', () => {
  it('rejects at once on abort and releases the resource that arrives later', async () => {
    const resource = deferred<string>();
    const release = vi.fn();
    const controller = new AbortController();
    const acquiring = acquireUnlessAborted(() => resource.promise, release, controller.signal);
    controller.abort(new Error('stop'));
    await expect(acquiring).rejects.toThrow('stop');
    resource.resolve('connection');
    await resource.promise;
    await Promise.resolve();
    expect(release).toHaveBeenCalledTimes(1);
    expect(release).toHaveBeenCalledWith('connection');
  });

  it('resolves normally without an abort', async () => {
    const release = vi.fn();
    await expect(acquireUnlessAborted(async () => 'c', release, new AbortController().signal)).resolves.toBe(
      'c',
    );
    expect(release).not.toHaveBeenCalled();
  });

  it('remembers the error an acquire failed with as one from before anything was sent', async () => {
    // A connection ended during the startup handshake (a relay whose server is down) reads like one lost
    // under a statement; coming from the acquire, it cannot have followed one.
    const terminated = new Error('Connection terminated unexpectedly');
    expect(isConnectionFailure(terminated)).toBe(true);
    expect(failedBeforeSending(terminated)).toBe(false);
    for (const signal of [undefined, new AbortController().signal]) {
      const failed = acquireUnlessAborted(() => Promise.reject(terminated), vi.fn(), signal);
      await expect(failed).rejects.toBe(terminated);
    }
    const thrown = new Error('Connection terminated unexpectedly');
    const failing = () => {
      throw thrown;
    };
    await expect(acquireUnlessAborted(failing, vi.fn(), undefined)).rejects.toBe(thrown);
    expect([isAcquireFailure(terminated), isAcquireFailure(thrown)]).toEqual([true, true]);
    expect(failedBeforeSending(terminated)).toBe(true);
    expect(isAcquireFailure(new Error('Connection terminated unexpectedly'))).toBe(false);
  });
});

describe('runCancellable', () => {
  it('does not start work when already aborted', async () => {
    const controller = new AbortController();
    controller.abort(new Error('before'));
    const work = vi.fn(async () => 1);
    await expect(runCancellable(work, async () => {}, controller.signal)).rejects.toThrow('before');
    expect(work).not.toHaveBeenCalled();
  });

  it('cancels on abort and settles only after the cancel has finished', async () => {
    const controller = new AbortController();
    const statement = deferred<string>();
    const cancelDone = deferred<void>();
    const steps: string[] = [];
    const running = runCancellable(
      () => statement.promise,
      async () => {
        steps.push('cancel sent');
        await cancelDone.promise;
        steps.push('cancel done');
      },
      controller.signal,
    ).then((value) => steps.push(`settled ${value}`));
    controller.abort();
    statement.resolve('completed anyway');
    await Promise.resolve();
    expect(steps).toEqual(['cancel sent']);
    cancelDone.resolve();
    await running;
    expect(steps).toEqual(['cancel sent', 'cancel done', 'settled completed anyway']);
  });

  it('repeats the cancel until the work settles (a cancel that came too early is dropped by the server)', async () => {
    const controller = new AbortController();
    const statement = deferred<string>();
    let cancels = 0;
    const running = runCancellable(
      () => statement.promise,
      async () => {
        cancels += 1;
        if (cancels === 3) statement.resolve('cancelled at last');
      },
      controller.signal,
    );
    controller.abort();
    await expect(running).resolves.toBe('cancelled at last');
    expect(cancels).toBe(3);
  });
});
