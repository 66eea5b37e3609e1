import { type AppendRequest, fitsBatch } from './append-request.js';
import { isConnectionFailure } from './error-mapper.js';

/** What one append of a batch found: its boundary's max, and its positions when the guard passed. */
export interface AppendOutcome {
  readonly max: bigint;
  /** Undefined when `max` was not the expected one: nothing of this append was inserted. */
  readonly positions: readonly bigint[] | undefined;
  /** The WAL position after the batch's inserts, inside its transaction (see consistency-token.ts). */
  readonly lsn?: string | undefined;
}

/** How concurrent appends of one store are combined. */
export interface BatchingLimits {
  /** Batches in flight at once; more appends wait and go together in the next batch. */
  readonly concurrency: number;
  /** Appends in one batch at most. */
  readonly maxAppends: number;
  /** Lock keys in one batch at most (the server's lock table is shared by all sessions). */
  readonly maxKeys: number;
  /** A batch in flight longer than this (waiting for a lock) no longer holds back the next one. */
  readonly stuckAfterMs: number;
}

/** Runs `fn` after the promise callbacks queued now (a macrotask: `setImmediate` where there is one). */
const afterCallbacks: (fn: () => void) => void =
  typeof setImmediate === 'function' ? setImmediate : (fn) => setTimeout(fn, 0);

type Send = (batch: readonly AppendRequest[], signal: AbortSignal | undefined) => Promise<AppendOutcome[]>;

interface Pending {
  readonly request: AppendRequest;
  readonly signal: AbortSignal | undefined;
  readonly resolve: (outcome: AppendOutcome) => void;
  readonly reject: (error: unknown) => void;
  /** Run in a batch of its own (after its batch failed as a whole). */
  alone: boolean;
  onAbort: (() => void) | undefined;
}

/**
 * Combines the appends of many concurrent callers into few statements: while `concurrency` batches are
 * in flight, new appends queue, and the next batch takes the queued appends whose boundaries do not
 * touch each other (`fitsBatch`), in arrival order. One round trip and one commit then serve many
 * appends, each still with its own guard. With few callers nothing queues and every append goes at once.
 *
 * Failure semantics stay those of a single append:
 * - an append aborted while queued leaves the queue; one aborted in flight cancels its batch on the
 *   server, and the others of the batch run again (if the batch committed before the cancel, every
 *   append of it reports that);
 * - a batch that fails as a whole for another reason than a lost connection runs again one append per
 *   batch, so that one bad append cannot fail the others; after a lost connection (the batch may have
 *   committed) every append of it fails with that error and none runs again.
 */
export class AppendBatcher {
  readonly #send: Send;
  readonly #limits: BatchingLimits;
  readonly #queue: Pending[] = [];
  #active = 0;
  /** Appends in the batches that hold a slot. */
  #inFlight = 0;

  constructor(send: Send, limits: BatchingLimits) {
    this.#send = send;
    this.#limits = limits;
  }

  /** Queues `request` and resolves with what the database did with it. */
  submit(request: AppendRequest, signal: AbortSignal | undefined): Promise<AppendOutcome> {
    return new Promise<AppendOutcome>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      this.#enqueue([{ request, signal, resolve, reject, alone: false, onAbort: undefined }], 'back');
      this.#pump();
    });
  }

  /** Puts appends into the queue; one that aborts there leaves it at once. */
  #enqueue(appends: Pending[], end: 'front' | 'back'): void {
    for (const pending of appends) {
      this.#listen(pending, () => {
        this.#queue.splice(this.#queue.indexOf(pending), 1);
        pending.reject(pending.signal?.reason);
      });
    }
    if (end === 'front') this.#queue.unshift(...appends);
    else this.#queue.push(...appends);
  }

  #pump(): void {
    while (this.#active < this.#limits.concurrency && this.#queue.length > 0) void this.#run(this.#take());
  }

  /** Removes the next batch from the queue: its first append, and the later ones that fit with it. */
  #take(): Pending[] {
    const [first] = this.#queue;
    const taken: Pending[] = [];
    const exclusive = new Set<string>();
    const shared = new Set<string>();
    let keys = 0;
    // A fair share of what waits and what runs, so that the batches in flight stay alike in size: a lone
    // caller answered early would otherwise go alone again and again while the others go together.
    const share = Math.ceil((this.#queue.length + this.#inFlight) / this.#limits.concurrency);
    const most = Math.min(this.#limits.maxAppends, Math.max(1, share));
    for (const pending of this.#queue) {
      const { request } = pending;
      const size = request.exclusiveKeys.size + request.sharedKeys.size;
      const fits =
        pending === first ||
        (!first?.alone &&
          !first?.request.escalate &&
          !pending.alone &&
          taken.length < most &&
          keys + size <= this.#limits.maxKeys &&
          fitsBatch(request, exclusive, shared));
      if (!fits) continue;
      taken.push(pending);
      keys += size;
      for (const key of request.exclusiveKeys) exclusive.add(key);
      for (const key of request.sharedKeys) shared.add(key);
    }
    for (const pending of taken) this.#queue.splice(this.#queue.indexOf(pending), 1);
    return taken;
  }

  async #run(batch: Pending[]): Promise<void> {
    this.#active++;
    this.#inFlight += batch.length;
    let counted = true;
    const release = () => {
      if (!counted) return;
      counted = false;
      this.#active--;
      this.#inFlight -= batch.length;
      this.#pump();
    };
    const stuck = setTimeout(release, this.#limits.stuckAfterMs);
    stuck.unref?.();
    // A member that aborts now cancels the whole statement; the others run again.
    const cancel = batch.some((pending) => pending.signal) ? new AbortController() : undefined;
    for (const pending of batch) this.#listen(pending, () => cancel?.abort(pending.signal?.reason));
    let outcomes: AppendOutcome[] | undefined;
    let failure: unknown;
    try {
      outcomes = await this.#send(
        batch.map((pending) => pending.request),
        cancel?.signal,
      );
    } catch (error) {
      failure = error;
    }
    clearTimeout(stuck);
    for (const pending of batch) this.#unlisten(pending);
    if (outcomes) {
      for (const [index, pending] of batch.entries()) pending.resolve(outcomes[index] as AppendOutcome);
    } else {
      // A lost connection may have lost the reply of a committed batch: never run such a batch again.
      const lost = isConnectionFailure(failure);
      const again = batch.filter((pending) => {
        if (pending.signal?.aborted) pending.reject(pending.signal.reason);
        else if (!lost && cancel?.signal.aborted) return true;
        else if (!lost && batch.length > 1) {
          pending.alone = true;
          return true;
        } else pending.reject(failure);
        return false;
      });
      this.#enqueue(again, 'front');
    }
    // The slot is given back once the callers answered here have had their turn: their next appends then
    // go together in one batch, instead of the first of them alone and the others in the batch after it.
    afterCallbacks(release);
  }

  #listen(pending: Pending, onAbort: () => void): void {
    this.#unlisten(pending);
    if (!pending.signal) return;
    pending.onAbort = onAbort;
    pending.signal.addEventListener('abort', onAbort, { once: true });
  }

  #unlisten(pending: Pending): void {
    if (pending.onAbort) pending.signal?.removeEventListener('abort', pending.onAbort);
    pending.onAbort = undefined;
  }
}
