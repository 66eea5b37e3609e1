/**
 * Cancellation helpers for adapters. A `signal` given to `Driver.query` must stop the statement on the
 * server, not just abandon the promise: an abandoned append may still commit.
 */

/** The errors `acquire` failed with in {@link acquireUnlessAborted}: nothing had been sent yet. */
const acquireFailures = new WeakSet<object>();

/** Whether `error` is one a connection's acquire failed with ({@link acquireUnlessAborted}). */
export function isAcquireFailure(error: unknown): boolean {
  return typeof error === 'object' && error !== null && acquireFailures.has(error);
}

/**
 * Acquires a resource (a pooled connection) unless `signal` aborts first; one that arrives late is released.
 * An error `acquire` fails with is remembered as one that came before any statement was sent, so an append
 * that fails so is a definite `ConnectionFailedError`, never an unknown outcome.
 */
export function acquireUnlessAborted<T>(
  acquire: () => Promise<T>,
  release: (resource: T) => void,
  signal: AbortSignal | undefined,
): Promise<T> {
  let acquiring: Promise<T>;
  try {
    acquiring = acquire();
  } catch (error) {
    acquiring = Promise.reject(error);
  }
  // Registered first, so the error is marked before anyone else sees it.
  acquiring.catch((error: unknown) => {
    if (typeof error === 'object' && error !== null) acquireFailures.add(error);
  });
  if (!signal) return acquiring;
  return new Promise<T>((resolve, reject) => {
    const abort = () => {
      reject(signal.reason);
      acquiring.then(release, () => {});
    };
    if (signal.aborted) return abort();
    signal.addEventListener('abort', abort, { once: true });
    acquiring.then(
      (resource) => {
        signal.removeEventListener('abort', abort);
        // After an abort, `abort` has already arranged the release.
        if (!signal.aborted) resolve(resource);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', abort);
        reject(error);
      },
    );
  });
}

/**
 * Runs `work`; when `signal` aborts, calls `cancel` (which asks the server to cancel the statement), and
 * calls it again, backing off from 10 ms to 1 s, until `work` settles: PostgreSQL drops a cancel request
 * that arrives before the statement has started, and an append waiting for a lock would then never end.
 * Settles only after the last cancel has finished, so a cancel can never hit a later statement on a
 * connection that went back to its pool. `work` settles as the server decided: cancelled, or completed.
 */
export async function runCancellable<T>(
  work: () => Promise<T>,
  cancel: () => Promise<void>,
  signal: AbortSignal,
): Promise<T> {
  signal.throwIfAborted();
  const running = work();
  const settled = running.then(
    () => true,
    () => true,
  );
  let cancelling: Promise<void> | undefined;
  const onAbort = () => {
    cancelling = cancelUntilSettled(cancel, settled);
  };
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    return await running;
  } finally {
    signal.removeEventListener('abort', onAbort);
    await cancelling;
  }
}

async function cancelUntilSettled(cancel: () => Promise<void>, settled: Promise<boolean>): Promise<void> {
  for (let wait = 10; ; wait = Math.min(wait * 2, 1000)) {
    await cancel().catch(() => {});
    let timer: ReturnType<typeof setTimeout> | undefined;
    const paused = new Promise<boolean>((resolve) => {
      timer = setTimeout(resolve, wait, false);
    });
    const done = await Promise.race([settled, paused]);
    clearTimeout(timer);
    if (done) return;
  }
}
