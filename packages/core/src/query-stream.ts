import type { Driver, Executor, Row, Statement } from './driver.js';
import type { EventFilter } from './filter.js';
import { decodeEvent } from './rows.js';
import { READ_COMMITTED_STATEMENT } from './statements.js';
import type { StoredEvent } from './storable-event.js';
import {
  streamBoundStatement,
  streamCursorStatement,
  streamFetchStatement,
  streamPageStatement,
} from './stream-statements.js';
import type { TableNames } from './table-name.js';

/** What one stream reads: the table, the checked filter, strong or eventual, and the batch size. */
export interface StreamPlan {
  readonly names: TableNames;
  readonly filter: EventFilter;
  readonly strong: boolean;
  readonly batchSize: number;
}

/** Runs one statement of the stream on an executor, bounded and cancellable as the store's reads are. */
export type StreamQuery = (executor: Executor, statement: Statement) => Promise<{ rows: readonly Row[] }>;

/**
 * Reads the plan's events from `driver` in batches and hands each to `handoff`, waiting for the consumer
 * to take it: memory holds about two batches. With transactions: one transaction, one cursor (a single
 * snapshot); a strong stream takes the read barrier first, in READ COMMITTED. Without (`Driver
 * .interactiveTransactions` or `.cursorStreams` false): keyset pages, each its own snapshot, a strong
 * stream bounded by the barrier taken first. Stops early, committing nothing, when the consumer leaves.
 * Resolves with the number of events handed over.
 */
export async function pumpEvents(
  driver: Driver,
  plan: StreamPlan,
  query: StreamQuery,
  handoff: Handoff<StoredEvent[]>,
): Promise<number> {
  let count = 0;
  let last: StoredEvent | undefined;
  /** Hands the rows over; false when the stream is over (the last batch, or the consumer left). */
  const deliver = async (rows: readonly Row[]) => {
    count += rows.length;
    const events = rows.map(decodeEvent);
    last = events.at(-1) ?? last;
    if (events.length > 0 && !(await handoff.put(events))) return false;
    return events.length === plan.batchSize;
  };
  const bound = async (executor: Executor) => {
    if (!plan.strong) return undefined;
    const { rows } = await query(executor, streamBoundStatement(plan.names, plan.filter));
    return BigInt(rows[0]?.bound ?? '0');
  };
  if (driver.interactiveTransactions === false || driver.cursorStreams === false) {
    const upTo = await bound(driver);
    let after = 0n;
    for (;;) {
      const { rows } = await query(
        driver,
        streamPageStatement(plan.names, plan.filter, after, plan.batchSize, upTo),
      );
      if (!(await deliver(rows))) return count;
      after = last?.sequenceNumber ?? after;
    }
  }
  await driver.transaction(async (tx) => {
    if (plan.strong) await query(tx, READ_COMMITTED_STATEMENT);
    await query(tx, streamCursorStatement(plan.names, plan.filter, await bound(tx)));
    const fetch = streamFetchStatement(plan.batchSize);
    while (await deliver((await query(tx, fetch)).rows)) {}
  });
  return count;
}

/**
 * Hands batches from one producer to one consumer, one at a time: `put` waits until the consumer took the
 * batch (or left), `take` until a batch came (or the producer finished).
 */
export class Handoff<T> {
  #batch: T | undefined;
  #taken: ((took: boolean) => void) | undefined;
  #arrived: (() => void) | undefined;
  #finished: { error?: unknown } | undefined;
  #left = false;
  #started = false;

  /** Whether a batch was offered already. */
  get started(): boolean {
    return this.#started;
  }

  /** Offers `batch`; resolves true once the consumer took it, false when the consumer left. */
  put(batch: T): Promise<boolean> {
    if (this.#left) return Promise.resolve(false);
    this.#started = true;
    this.#batch = batch;
    this.#wake();
    return new Promise((resolve) => {
      this.#taken = resolve;
    });
  }

  /** The next batch, or undefined once the producer finished; rejects with the producer's error. */
  async take(): Promise<T | undefined> {
    while (this.#batch === undefined && !this.#finished) {
      await new Promise<void>((resolve) => {
        this.#arrived = resolve;
      });
    }
    const batch = this.#batch;
    if (batch !== undefined) {
      this.#batch = undefined;
      this.#settlePut(true);
      return batch;
    }
    if (this.#finished && 'error' in this.#finished) throw this.#finished.error;
    return undefined;
  }

  /** The producer is done, with `error` when it failed. */
  finish(...error: [] | [unknown]): void {
    this.#finished = error.length > 0 ? { error: error[0] } : {};
    this.#wake();
  }

  /** The consumer left: a waiting or later `put` resolves false. */
  leave(): void {
    this.#left = true;
    this.#batch = undefined;
    this.#settlePut(false);
  }

  #wake(): void {
    const arrived = this.#arrived;
    this.#arrived = undefined;
    arrived?.();
  }

  #settlePut(took: boolean): void {
    const taken = this.#taken;
    this.#taken = undefined;
    taken?.(took);
  }
}

/**
 * The stream a caller iterates: starts the producer (`start`, which routes and reports the call and runs
 * `pumpEvents` on the chosen server), yields its events, and on leaving the loop early (break, throw, a
 * cancelled context) stops it and waits until its connection is released.
 */
export async function* consumeEvents(
  start: (handoff: Handoff<StoredEvent[]>) => Promise<unknown>,
): AsyncGenerator<StoredEvent, void, undefined> {
  const handoff = new Handoff<StoredEvent[]>();
  const producing = start(handoff).then(
    () => handoff.finish(),
    (error: unknown) => handoff.finish(error),
  );
  try {
    for (;;) {
      const batch = await handoff.take();
      if (batch === undefined) return;
      yield* batch;
    }
  } finally {
    handoff.leave();
    await producing;
  }
}
