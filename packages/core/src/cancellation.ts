/**
 * Cancellation helpers for adapters. A `signal` given to `Driver.query` must stop the statement on the
 * server, not just abandon the promise: an abandoned append may still commit.
 */

/** Acquires a resource (a pooled connection) unless `signal` aborts first; one that arrives late is released. */
export function acquireUnlessAborted<T>(
  acquire: () => Promise<T>,
  release: (resource: T) => void,
  signal: AbortSignal | undefined,
): Promise<T> {
  const acquiring = acquire();
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
 * Runs `work`; when `signal` aborts, calls `cancel` (which asks the server to cancel the statement). Settles
 * only after a cancel in flight has finished, so the cancel can never hit a later statement on a connection
 * that went back to its pool. `work` settles as the server decided: cancelled, or completed after all.
 */
export async function runCancellable<T>(
  work: () => Promise<T>,
  cancel: () => Promise<void>,
  signal: AbortSignal,
): Promise<T> {
  signal.throwIfAborted();
  let cancelling: Promise<void> | undefined;
  const onAbort = () => {
    cancelling = cancel().catch(() => {});
  };
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    return await work();
  } finally {
    signal.removeEventListener('abort', onAbort);
    await cancelling;
  }
}
