import {
  buildEventFilter,
  type EventFilter,
  isEventStoreError,
  matchesFilter,
  P,
  withStrongConsistency,
} from '@es/core';
import { expect } from 'vitest';
import { describeError, positionsOf, track } from '../expectations.js';
import { bookEvent, LENT, RETURNED } from '../fixtures.js';
import { waitUntil } from '../raw-database.js';
import type { ConformanceSuite, RegisterTest, StoreUnderTest } from '../suite-context.js';

/**
 * SPEC §3.6, the late-commit case. Positions are handed out at INSERT but become visible at COMMIT, so an
 * append can hold a low position, uncommitted, while a later one commits a higher position.
 *
 * How T1 is held open: a real `store.append`, stopped after its INSERT and before its COMMIT by an AFTER
 * INSERT trigger (added to the test's table by raw SQL) that waits for a row lock on a "gate" table, held
 * by a raw transaction. It fires only for events whose payload has the key `lateCommitGate`. The store
 * under test is not changed or bypassed: T1 took whatever locks the store takes, ran its guard, and
 * inserted its event; it just cannot commit yet. Every step is ordered by observing, in
 * pg_stat_activity / pg_blocking_pids, that the previous one is blocked (or by its promise settling):
 * no sleeps.
 */

const GATE_KEY = 'lateCommitGate';

interface Gate {
  /** The backend holding the gate. */
  readonly pid: number;
  open(): Promise<void>;
}

/** Adds the gate trigger to the test's table and closes the gate. */
async function closeGate<H>(suite: ConformanceSuite<H>, under: StoreUnderTest): Promise<Gate> {
  const gateTable = `"${under.tableName}_gate"`;
  const gateFunction = `"${under.tableName}_gate_wait"`;
  await suite.raw.query(`
    CREATE TABLE ${gateTable} (id int PRIMARY KEY);
    INSERT INTO ${gateTable} VALUES (1);
    CREATE FUNCTION ${gateFunction}() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
      PERFORM 1 FROM ${gateTable} WHERE id = 1 FOR SHARE;
      RETURN NULL;
    END
    $fn$;
    CREATE TRIGGER gate_wait AFTER INSERT ON ${under.table}
      FOR EACH ROW WHEN (NEW.payload ? '${GATE_KEY}') EXECUTE FUNCTION ${gateFunction}();
  `);
  const holder = await suite.raw.begin();
  await holder.query(`SELECT id FROM ${gateTable} WHERE id = 1 FOR UPDATE`);
  return { pid: holder.pid, open: () => holder.commit() };
}

type Tracked<T> = ReturnType<typeof track<T>>;

/** Waits until `t1` has inserted its event and waits at the gate; returns the backend waiting there. */
async function reachedGate<H>(
  suite: ConformanceSuite<H>,
  gate: Gate,
  t1: Tracked<unknown>,
): Promise<number[]> {
  await waitUntil(async () => {
    if (t1.settled()) {
      throw new Error(
        `T1 settled before reaching the gate: ${describeError(await t1.promise.catch((e) => e))}`,
      );
    }
    return (await suite.raw.waitingFor(gate.pid)).length === 1;
  }, 'T1 has inserted its event and waits at the gate');
  return suite.raw.waitingFor(gate.pid);
}

/** Waits until `call` has settled or a backend not in `known` is waiting for a lock; returns that backend. */
async function settledOrBlocked<H>(
  suite: ConformanceSuite<H>,
  call: Tracked<unknown>,
  known: number[],
  what: string,
): Promise<void> {
  await waitUntil(async () => {
    if (call.settled()) return true;
    const waiting = await suite.raw.waitingBackends(known);
    known.push(...waiting);
    return waiting.length > 0;
  }, `${what} has finished or waits for a lock`);
}

/** The events matching `filter`, by raw SQL. */
async function rawMatching<H>(
  suite: ConformanceSuite<H>,
  table: string,
  filter: EventFilter,
): Promise<bigint[]> {
  return (await suite.raw.events(table))
    .filter((event) => matchesFilter(filter, event))
    .map((event) => event.sequenceNumber);
}

export function lateCommit<H>(suite: ConformanceSuite<H>, test: RegisterTest): void {
  // F: the boundary of the decision. Every event below matches F.
  const book = 'book-late-3c9a';
  const reader = 'reader-late-81f0';
  const F = buildEventFilter().matching().allPredicatesOf(P('BookID', book)).finalize();
  // F2: T2's own boundary, disjoint from T1's event (which has no ReaderID).
  const F2 = buildEventFilter().matching().allPredicatesOf(P('ReaderID', reader)).finalize();

  /** A fresh store with one F event (at m0) and a closed gate; `known` lists backends already waiting. */
  const seededBehindGate = async () => {
    const under = await suite.newStore('single');
    const seed = await under.store.append(undefined, F, 0n, bookEvent(LENT, { BookID: book }));
    const gate = await closeGate(suite, under);
    return { ...under, m0: seed.sequenceNumbers[0] ?? 0n, gate, known: [gate.pid] };
  };

  test('late commit: a decision on F never misses an earlier uncommitted append of an F event', async () => {
    const { store, table, m0, gate, known } = await seededBehindGate();
    let t1: Tracked<unknown> | undefined;
    let t2: Tracked<unknown> | undefined;
    let decision: Tracked<Awaited<ReturnType<typeof store.query>>> | undefined;
    try {
      // 1. T1 appends A (matches F) with the right expected max; it inserts A at p1 and stops before COMMIT.
      t1 = track(store.append(undefined, F, m0, bookEvent(RETURNED, { BookID: book, [GATE_KEY]: true })));
      known.push(...(await reachedGate(suite, gate, t1)));
      // 2. T2 appends B (matches F, and F2) on its own boundary F2. A store with a plain MAX guard commits B
      //    at p2 > p1 right away; a store with a read barrier may make it wait for T1.
      t2 = track(store.append(undefined, F2, 0n, bookEvent(LENT, { BookID: book, ReaderID: reader })));
      await settledOrBlocked(suite, t2, known, 'T2');
      // 3. The decision reads F with a strong context, while T1 is still uncommitted. It must not return
      //    B (p2) without A (p1); waiting for T1 is fine.
      decision = track(store.query(withStrongConsistency(), F));
      await settledOrBlocked(suite, decision, known, 'the decision read');
    } finally {
      // 4. T1 commits.
      await gate.open();
    }
    const [r1, r2, read] = await Promise.allSettled([t1.promise, t2.promise, decision.promise]);
    expect(
      r1.status === 'fulfilled' ||
        isEventStoreError((r1 as PromiseRejectedResult).reason, 'CONCURRENCY_CONFLICT'),
      `T1 succeeds or conflicts: ${r1.status === 'rejected' ? describeError(r1.reason) : 'ok'}`,
    ).toBe(true);
    expect(
      r2.status,
      `T2 (a disjoint boundary) must succeed: ${r2.status === 'rejected' ? describeError(r2.reason) : ''}`,
    ).toBe('fulfilled');
    if (read.status === 'rejected') throw read.reason;
    const seen = positionsOf(read.value);
    const everyF = await rawMatching(suite, table, F);

    // 5. The append decided on that read. Every F event is committed now and no other write follows, so it
    //    must succeed exactly when the read saw all of them; if the read missed one (A below B, or anything
    //    committed after the read), it must conflict.
    const sawAll = seen.join() === everyF.join();
    let appended: readonly bigint[] | undefined;
    try {
      const event = bookEvent(LENT, { BookID: book });
      appended = (await store.append(withStrongConsistency(), F, read.value.maxSequenceNumber, event))
        .sequenceNumbers;
    } catch (error) {
      if (!isEventStoreError(error, 'CONCURRENCY_CONFLICT')) throw error;
    }
    const story = `the decision saw [${seen.join(', ')}] of the F events [${everyF.join(', ')}]`;
    expect(appended !== undefined, `append after the decision succeeded; ${story}`).toBe(sawAll);
    if (appended !== undefined) {
      const first = appended[0] ?? 0n;
      const below = (await rawMatching(suite, table, F)).filter((position) => position < first);
      expect(below, 'the F events below the new one are exactly those the decision saw').toEqual(seen);
    }
  });

  test('late commit: two appends on one boundary with one held open before COMMIT: exactly one wins', async () => {
    const { store, table, m0, gate, known } = await seededBehindGate();
    let t1: Tracked<unknown> | undefined;
    let t2: Tracked<unknown> | undefined;
    try {
      // T1 and T2 both append an F event with expected m0. T1 is held after its INSERT. A plain MAX guard
      // lets T2 through (A is invisible), then T1 commits: both win, and T2's decision missed A.
      t1 = track(store.append(undefined, F, m0, bookEvent(RETURNED, { BookID: book, [GATE_KEY]: true })));
      known.push(...(await reachedGate(suite, gate, t1)));
      t2 = track(store.append(undefined, F, m0, bookEvent(LENT, { BookID: book, ReaderID: reader })));
      await settledOrBlocked(suite, t2, known, 'T2');
    } finally {
      await gate.open();
    }
    const outcomes = await Promise.allSettled([t1.promise, t2.promise]);
    const winners = outcomes.filter((outcome) => outcome.status === 'fulfilled');
    const losers = outcomes.flatMap((outcome) =>
      outcome.status === 'rejected' ? [outcome.reason as unknown] : [],
    );
    expect(losers.map(describeError).filter((text) => !text.includes('CONCURRENCY_CONFLICT'))).toEqual([]);
    expect(winners, 'exactly one of the two appends with the same expected max wins').toHaveLength(1);
    expect(await rawMatching(suite, table, F)).toHaveLength(2);
  });
}
