import { randomUUID } from 'node:crypto';
import {
  buildEventFilter,
  buildStorableEvent,
  type Context,
  type EventStore,
  isEventStoreError,
  P,
  withStrongConsistency,
} from '@es/core';
import { startWebSocketRelay, type WebSocketRelay } from '@es/testing';
import { neonConfig } from '@neondatabase/serverless';
import type pg from 'pg';
import { afterAll, beforeAll, expect } from 'vitest';

/**
 * The load of the fault suites (faults.test.ts, replica-faults.test.ts): writers that append events with ids
 * and resolve every unknown outcome by retrying the same append, readers, the record of every call, and the
 * check of the table against what the writers were told.
 */

/** The store bounds the fault suites run with. */
export const BOUNDS = { connectTimeoutMs: 1_000, statementTimeoutMs: 2_000 };
/** The longest a call may take: its bound, the grace an append gets for a cancel, and slack for a busy CI. */
export const LONGEST_CALL_MS = BOUNDS.connectTimeoutMs + BOUNDS.statementTimeoutMs + 2_000 + 3_000;

/** Resolves after `ms`: schedules faults and paces loops, never waits for replication. */
export const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** What happened to the calls of one kind (appends, strong reads, eventual reads). */
export interface Calls {
  byCode: Record<string, number>;
  /** [started, ended, code] of every call, in performance.now() time. */
  log: [number, number, string][];
}

/** What the writers saw: their calls, and the fate of every event id. */
export interface Writes extends Calls {
  acknowledged: Map<string, bigint>;
  absent: Set<string>;
  unresolved: number;
}

export const calls = (): Calls => ({ byCode: {}, log: [] });
export const writes = (): Writes => ({
  ...calls(),
  acknowledged: new Map(),
  absent: new Set(),
  unresolved: 0,
});

/** Runs `call` and records its outcome and timing; resolves with its error code, or 'ok'. */
export async function timed(into: Calls, call: () => Promise<unknown>): Promise<string> {
  const started = performance.now();
  const code = await call().then(
    () => 'ok',
    (error: unknown) => (isEventStoreError(error) ? error.code : 'UNTYPED'),
  );
  into.log.push([started, performance.now(), code]);
  into.byCode[code] = (into.byCode[code] ?? 0) + 1;
  return code;
}

export const boundary = (book: string) =>
  buildEventFilter().matching().allPredicatesOf(P('BookID', book)).finalize();

/** Codes after which the same append is tried again: its outcome is unknown, or it could not be sent. */
const RETRIED = new Set(['APPEND_OUTCOME_UNKNOWN', 'CONNECTION_FAILED', 'TIMEOUT']);

/** Tells a load loop whether to stop. */
export type Over = () => boolean;
export const after = (ms: number): Over => {
  const until = Date.now() + ms;
  return () => Date.now() >= until;
};

/**
 * One writer: appends to its own book until `over()`. An append whose outcome was unknown once stays
 * unknown until a retry (same ids) succeeds or is refused; retries go on for up to 15 s.
 */
export async function writer(store: EventStore, book: string, over: Over, tally: Writes): Promise<void> {
  let expected = 0n;
  while (!over()) {
    const event = buildStorableEvent({
      type: 'BookCopyLentToReader',
      occurredAt: new Date(),
      payload: { BookID: book },
      id: randomUUID(),
    });
    const id = event.id as string;
    let unknown = false;
    for (const giveUp = Date.now() + 15_000; ; ) {
      let positions: readonly bigint[] = [];
      const code = await timed(tally, async () => {
        ({ sequenceNumbers: positions } = await store.append(
          withStrongConsistency(),
          boundary(book),
          expected,
          event,
        ));
      });
      if (code === 'ok') {
        tally.acknowledged.set(id, positions[0] as bigint);
        expected = positions[0] as bigint;
        break;
      }
      unknown ||= code === 'APPEND_OUTCOME_UNKNOWN';
      if (RETRIED.has(code) && Date.now() < giveUp) {
        await pause(20);
        continue;
      }
      if (unknown) tally.unresolved++;
      else tally.absent.add(id);
      break;
    }
  }
}

/** One reader until `over()`, in the consistency `ctx` asks for. */
export async function reader(store: EventStore, ctx: Context, book: string, over: Over, reads: Calls) {
  while (!over()) {
    await timed(reads, () => store.query(ctx, boundary(book)));
    await pause(10);
  }
}

/** The table against the writers' tally: every id's copies and position. */
export async function checkTable(direct: pg.Pool, tableName: string, tally: Writes) {
  const { rows } = await direct.query<{ id: string; position: string; copies: string }>(
    `SELECT id::text AS id, min(sequence_number)::text AS position, count(*)::text AS copies
     FROM "${tableName}" GROUP BY id`,
  );
  const stored = new Map(rows.map((row) => [row.id, row]));
  const lost = [...tally.acknowledged].filter(([id, at]) => stored.get(id)?.position !== at.toString());
  expect(tally.acknowledged.size, 'appends got through between the faults').toBeGreaterThan(20);
  expect(lost, 'acknowledged appends missing or at another position').toEqual([]);
  expect(
    rows.filter((row) => row.copies !== '1'),
    'events stored twice',
  ).toEqual([]);
  expect(
    [...tally.absent].filter((id) => stored.has(id)),
    'appends that failed definitely but were stored',
  ).toEqual([]);
  expect(tally.unresolved, 'unknown outcomes a retry did not resolve').toBe(0);
  expect(rows.length, 'every stored event is an acknowledged one').toBe(tally.acknowledged.size);
  return { lost: lost.length, duplicated: rows.filter((row) => row.copies !== '1').length };
}

export const longest = (of: Calls) =>
  Math.round(of.log.reduce((most, [start, end]) => Math.max(most, end - start), 0));
export const codes = (of: Calls) =>
  Object.entries(of.byCode)
    .map(([code, count]) => `${code} ${count}`)
    .join(', ');
export const median = (values: number[]) =>
  Math.round([...values].sort((a, b) => a - b)[values.length >> 1] ?? 0);
/** The calls that started in [from, to) and failed, as their durations. */
export const failedIn = (of: Calls, from: number, to: number) =>
  of.log.filter(([start, , code]) => start >= from && start < to && code !== 'ok').map(([s, e]) => e - s);
/** How long after `at` the first call ending after it succeeded. */
export const recoveredAfter = (of: Calls, at: number) =>
  Math.round(
    Math.min(...of.log.filter(([, end, code]) => code === 'ok' && end >= at).map(([, end]) => end)) - at,
  );

/** Polls `check` every 20 ms until it holds (15 s at most): waits on the store's probe, not on time. */
export async function waitUntil(check: () => Promise<boolean>): Promise<void> {
  for (const deadline = Date.now() + 15_000; !(await check()); await pause(20)) {
    if (Date.now() > deadline) throw new Error('timed out waiting for the circuits to close');
  }
}

/**
 * Starts a WebSocket relay for Neon's Pool before the tests of the enclosing `describe`, and prints
 * `report` as a table after them.
 */
export function useRelayAndReport(report: Record<string, unknown>[]): void {
  let relay: WebSocketRelay | undefined;
  beforeAll(async () => {
    relay = await startWebSocketRelay();
    Object.assign(neonConfig, relay.neonConfig);
  });
  afterAll(async () => {
    await relay?.close();
    console.table(report);
  });
}
