/**
 * Measures how far behind the primary each replica is, in the background, for bounded-staleness reads and
 * least-lag selection: `measure` runs every `intervalMs` once `start()` was called (a timer that is unref'd
 * and stopped by `close()`), and at once through `refresh()` when a read needs a fresher answer. Runs never
 * overlap: a refresh joins the one in flight.
 */
export class LagMonitor {
  readonly #measure: () => Promise<void>;
  readonly #intervalMs: number;
  #timer: ReturnType<typeof setInterval> | undefined;
  #running: Promise<void> | undefined;
  #closed = false;

  constructor(measure: () => Promise<void>, intervalMs: number) {
    this.#measure = measure;
    this.#intervalMs = intervalMs;
  }

  /** Starts the periodic measurement (idempotent; nothing after `close()`). */
  start(): void {
    if (this.#timer !== undefined || this.#closed) return;
    this.#timer = setInterval(() => void this.refresh(), this.#intervalMs);
    this.#timer.unref?.();
  }

  /** One measurement now, or the one in flight; never rejects. */
  refresh(): Promise<void> {
    this.#running ??= this.#measure()
      .catch(() => {})
      .finally(() => {
        this.#running = undefined;
      });
    return this.#running;
  }

  /** Stops the periodic measurement for good. */
  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
