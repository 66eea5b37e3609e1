import { randomUUID } from 'node:crypto';
import {
  buildEventFilter,
  buildStorableEvent,
  type EventStore,
  isEventStoreError,
  P,
  withEventualConsistency,
  withStrongConsistency,
} from '@es/core';
import { fromPgPool } from '@es/pg';
import { type FaultProxy, startFaultProxy, startWebSocketRelay, type WebSocketRelay } from '@es/testing';
import { neonConfig } from '@neondatabase/serverless';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADAPTERS } from './adapters.js';
import { freshTable, pool, useCluster } from './helpers.js';

/**
 * Faults under load, for every adapter: 8 writers append events with ids to boundaries of their own
 * through a TCP proxy that, every 150 ms, either cuts the reply of the next statement after its COMMIT or
 * drops every connection at once. Every outcome is checked against the table: an acknowledged append is
 * stored exactly once at its positions, a definite failure stored nothing, an unknown outcome is resolved
 * by retrying the same append (same ids), and no call outlives the store's bound. Meanwhile 4 readers read
 * eventually from the replica, which is stopped for 1.5 s: every read ends within the bound, and reads
 * work again once the replica is back, without a new store.
 */
const WRITERS = 8;
const SECONDS = 4;
const BOUNDS = { connectTimeoutMs: 1_000, statementTimeoutMs: 2_000 };
/** The longest a call may take: its bound, the grace an append gets for a cancel, and slack for a busy CI. */
const LONGEST_CALL_MS = BOUNDS.connectTimeoutMs + BOUNDS.statementTimeoutMs + 2_000 + 3_000;

interface Tally {
  calls: number;
  byCode: Record<string, number>;
  errorMs: number[];
  longestMs: number;
  acknowledged: Map<string, bigint>;
  absent: Set<string>;
  unresolved: number;
}

const boundary = (book: string) =>
  buildEventFilter().matching().allPredicatesOf(P('BookID', book)).finalize();

/** One writer: appends to its own book until `until`, resolving unknown outcomes by retrying. */
async function writer(store: EventStore, book: string, until: number, tally: Tally): Promise<void> {
  let expected = 0n;
  while (Date.now() < until) {
    const event = buildStorableEvent({
      type: 'BookCopyLentToReader',
      occurredAt: new Date(),
      payload: { BookID: book },
      id: randomUUID(),
    });
    const id = event.id as string;
    for (let attempt = 0; ; attempt++) {
      const started = performance.now();
      tally.calls++;
      try {
        const { sequenceNumbers } = await store.append(
          withStrongConsistency(),
          boundary(book),
          expected,
          event,
        );
        tally.longestMs = Math.max(tally.longestMs, performance.now() - started);
        tally.byCode.ok = (tally.byCode.ok ?? 0) + 1;
        tally.acknowledged.set(id, sequenceNumbers[0] as bigint);
        expected = sequenceNumbers[0] as bigint;
        break;
      } catch (error) {
        const elapsed = performance.now() - started;
        tally.longestMs = Math.max(tally.longestMs, elapsed);
        tally.errorMs.push(elapsed);
        const code = isEventStoreError(error) ? error.code : 'UNTYPED';
        tally.byCode[code] = (tally.byCode[code] ?? 0) + 1;
        // An unknown outcome is retried with the same ids until it is definite; so is a failure to connect.
        const again = code === 'APPEND_OUTCOME_UNKNOWN' || code === 'CONNECTION_FAILED' || code === 'TIMEOUT';
        if (again && attempt < 50) {
          await new Promise((resolve) => setTimeout(resolve, 20));
          continue;
        }
        if (code === 'APPEND_OUTCOME_UNKNOWN') tally.unresolved++;
        else tally.absent.add(id);
        break;
      }
    }
  }
}

interface Reads {
  byCode: Record<string, number>;
  longestMs: number;
}

/** One eventual reader until `until`: counts outcomes by code and the longest read. */
async function reader(store: EventStore, book: string, until: number, reads: Reads): Promise<void> {
  while (Date.now() < until) {
    const started = performance.now();
    const code = await store.query(withEventualConsistency(), boundary(book)).then(
      () => 'ok',
      (error: unknown) => (isEventStoreError(error) ? error.code : 'UNTYPED'),
    );
    reads.longestMs = Math.max(reads.longestMs, performance.now() - started);
    reads.byCode[code] = (reads.byCode[code] ?? 0) + 1;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Cuts a reply after COMMIT or drops every connection, alternately, every 150 ms until `until`. */
async function injectFaults(proxy: FaultProxy, until: number): Promise<{ cuts: number; drops: number }> {
  const counts = { cuts: 0, drops: 0 };
  for (let round = 0; Date.now() < until; round++) {
    await new Promise((resolve) => setTimeout(resolve, 150));
    if (round % 3 === 2) {
      proxy.dropConnections();
      counts.drops++;
    } else {
      const cut = proxy.cutNextReply();
      await Promise.race([cut, new Promise((resolve) => setTimeout(resolve, 1_000))]);
      counts.cuts++;
    }
  }
  return counts;
}

describe('faults under load, every adapter: nothing acknowledged is lost or doubled', () => {
  const cluster = useCluster();
  let relay: WebSocketRelay | undefined;
  const report: Record<string, unknown>[] = [];

  beforeAll(async () => {
    relay = await startWebSocketRelay();
    Object.assign(neonConfig, relay.neonConfig);
  });
  afterAll(async () => {
    await relay?.close();
    console.table(report);
  });

  for (const [name, open] of Object.entries(ADAPTERS)) {
    it(`${name}: reply cuts after COMMIT, dropped connections and a 1.5 s replica outage, ${WRITERS} writers, ${SECONDS} s`, async () => {
      const tableName = freshTable('faults');
      const direct = pool(cluster().primaryUrl);
      await fromPgPool(direct, { tableName }).migrate();
      const proxy = await startFaultProxy(cluster().primaryUrl);
      const opened = open(proxy.url, cluster().replicaUrl, { tableName, ...BOUNDS });
      const tally: Tally = {
        calls: 0,
        byCode: {},
        errorMs: [],
        longestMs: 0,
        acknowledged: new Map(),
        absent: new Set(),
        unresolved: 0,
      };
      const reads: Reads = { byCode: {}, longestMs: 0 };
      try {
        const until = Date.now() + SECONDS * 1_000;
        const replicaOutage = async () => {
          if (!cluster().canStopReplica) return;
          await new Promise((resolve) => setTimeout(resolve, 1_000));
          await cluster().stopReplica();
          await new Promise((resolve) => setTimeout(resolve, 1_500));
          await cluster().startReplica();
        };
        const [faults] = await Promise.all([
          injectFaults(proxy, until),
          replicaOutage(),
          ...Array.from({ length: WRITERS }, (_, index) =>
            writer(opened.store, `${name}-${index}`, until, tally),
          ),
          ...Array.from({ length: 4 }, (_, index) => reader(opened.store, `${name}-${index}`, until, reads)),
        ]);
        // Back without a new store: eventual reads succeed again (retried while the handle reconnects).
        await cluster().waitForReplay();
        let recovered = false;
        for (let attempt = 0; attempt < 50 && !recovered; attempt++) {
          recovered = await opened.store.query(withEventualConsistency(), boundary(`${name}-0`)).then(
            () => true,
            () => new Promise<boolean>((resolve) => setTimeout(resolve, 100, false)),
          );
        }
        const { rows } = await direct.query<{ id: string; position: string; copies: string }>(
          `SELECT id::text AS id, min(sequence_number)::text AS position, count(*)::text AS copies
           FROM "${tableName}" GROUP BY id`,
        );
        const stored = new Map(rows.map((row) => [row.id, row]));
        const duplicated = rows.filter((row) => row.copies !== '1').length;
        const lost = [...tally.acknowledged].filter(([id, at]) => stored.get(id)?.position !== at.toString());
        const phantom = [...tally.absent].filter((id) => stored.has(id));
        const sorted = [...tally.errorMs].sort((a, b) => a - b);
        report.push({
          adapter: name,
          calls: tally.calls,
          ...tally.byCode,
          'cuts/drops': `${faults.cuts}/${faults.drops}`,
          'p50 ms to error': Math.round(sorted[sorted.length >> 1] ?? 0),
          'max ms of a call': Math.round(tally.longestMs),
          'acknowledged lost': lost.length,
          duplicated,
          unresolved: tally.unresolved,
          'eventual reads': Object.entries(reads.byCode)
            .map(([code, count]) => `${code} ${count}`)
            .join(', '),
          'longest read ms': Math.round(reads.longestMs),
        });
        expect(tally.acknowledged.size, 'appends got through between the faults').toBeGreaterThan(20);
        expect(faults.cuts + faults.drops).toBeGreaterThan(5);
        expect(lost, 'acknowledged appends missing or at another position').toEqual([]);
        expect(duplicated, 'events stored twice').toBe(0);
        expect(phantom, 'appends that failed definitely but were stored').toEqual([]);
        expect(tally.unresolved, 'unknown outcomes a retry did not resolve').toBe(0);
        expect(rows.length, 'every stored event is an acknowledged one').toBe(tally.acknowledged.size);
        expect(tally.longestMs, 'a call outlived its bound').toBeLessThan(LONGEST_CALL_MS);
        expect(reads.longestMs, 'a read outlived its bound').toBeLessThan(LONGEST_CALL_MS);
        expect(reads.byCode.ok, 'eventual reads succeeded').toBeGreaterThan(0);
        expect(recovered, 'eventual reads work again after the replica is back').toBe(true);
      } finally {
        // A Neon Pool whose WebSocket died under a query never settles that query, and end() waits for it:
        // closing is bounded here (the store's calls were bounded already; see the note in the report).
        const closed = await Promise.race([
          opened.close().then(() => true),
          new Promise<boolean>((resolve) => setTimeout(resolve, 5_000, false)),
        ]);
        if (!closed) report.push({ adapter: name, note: 'close() did not finish within 5 s' });
        await proxy.close();
        await direct.end();
      }
    }, 60_000);
  }
});
