import { type EventStore, withEventualConsistency, withStrongConsistency } from '@es/core';
import { fromPgPool } from '@es/pg';
import { type FaultProxy, startFaultProxy } from '@es/testing';
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { ADAPTERS, type Open } from './adapters.js';
import {
  after,
  BOUNDS,
  boundary,
  calls,
  checkTable,
  codes,
  failedIn,
  LONGEST_CALL_MS,
  longest,
  median,
  type Over,
  pause,
  reader,
  recoveredAfter,
  timed,
  useRelayAndReport,
  writer,
  writes,
} from './fault-load.js';
import { freshTable, pool, useCluster } from './helpers.js';

/**
 * Faults under load, for every adapter. Writers append events with ids to boundaries of their own and
 * resolve every unknown outcome by retrying the same append (same ids); every outcome is then checked
 * against the table: an acknowledged append is stored exactly once at its positions, a definite failure
 * stored nothing, and no call outlives the store's bound.
 * - Through a TCP proxy that, every 150 ms, cuts the reply of the next statement after its COMMIT or drops
 *   every connection, with the replica stopped for 1.5 s under eventual readers.
 * - With the primary killed (`pg_ctl stop -m immediate`) for 2 s and, once it is back, stalled (SIGSTOP:
 *   it accepts and never answers) for 1.5 s, under strong and eventual readers: calls to the down primary
 *   fail within the connect bound, the store works again within a second of its return, and eventual
 *   reads never notice.
 * The timers here schedule the faults; every wait for replication compares LSNs (`waitForReplay`).
 */
const WRITERS = 8;
const SECONDS = 4;
/** The longest a call to a primary that refuses connections may take to fail: its connect bound, and slack. */
const DOWN_FAILS_WITHIN_MS = BOUNDS.connectTimeoutMs + 1_000;
/** How soon after the primary is back calls must succeed again (the issue asks for 1 s), with slack. */
const RECOVERS_WITHIN_MS = 2_000;

/** Cuts a reply after COMMIT or drops every connection, alternately, every 150 ms until `over()`. */
async function injectFaults(proxy: FaultProxy, over: Over): Promise<{ cuts: number; drops: number }> {
  const counts = { cuts: 0, drops: 0 };
  for (let round = 0; !over(); round++) {
    await pause(150);
    if (round % 3 === 2) {
      proxy.dropConnections();
      counts.drops++;
    } else {
      await Promise.race([proxy.cutNextReply(), pause(1_000)]);
      counts.cuts++;
    }
  }
  return counts;
}

describe('faults under load, every adapter: nothing acknowledged is lost or doubled', () => {
  const cluster = useCluster();
  const report: Record<string, unknown>[] = [];
  useRelayAndReport(report);

  /** Runs `test` on a fresh table with `open`'s store on `primaryUrl`, and closes everything after. */
  async function withStore(
    open: Open,
    primaryUrl: string,
    adapter: string,
    test: (store: EventStore, direct: pg.Pool, tableName: string) => Promise<void>,
  ) {
    const tableName = freshTable('faults');
    const direct = pool(cluster().primaryUrl);
    await fromPgPool(direct, { tableName }).migrate();
    await cluster().waitForReplay(); // the replica has the table before anyone reads it there
    const opened = open(primaryUrl, cluster().replicaUrl, { tableName, ...BOUNDS });
    try {
      await test(opened.store, direct, tableName);
    } finally {
      // A Neon Pool whose WebSocket died under a query never settles that query, and end() waits for it:
      // closing is bounded here (the store's calls were bounded already).
      const closed = await Promise.race([opened.close().then(() => true), pause(5_000).then(() => false)]);
      if (!closed) report.push({ adapter, note: 'close() did not finish within 5 s' });
      await direct.end();
    }
  }

  for (const [name, open] of Object.entries(ADAPTERS)) {
    it(`${name}: reply cuts after COMMIT, dropped connections and a 1.5 s replica outage, ${WRITERS} writers, ${SECONDS} s`, async () => {
      const proxy = await startFaultProxy(cluster().primaryUrl);
      try {
        await withStore(open, proxy.url, name, async (store, direct, tableName) => {
          const tally = writes();
          const reads = calls();
          const over = after(SECONDS * 1_000);
          const replicaOutage = async () => {
            if (!cluster().canStopReplica) return;
            await pause(1_000);
            await cluster().stopReplica();
            await pause(1_500);
            await cluster().startReplica();
          };
          const [faults] = await Promise.all([
            injectFaults(proxy, over),
            replicaOutage(),
            ...Array.from({ length: WRITERS }, (_, index) => writer(store, `${name}-${index}`, over, tally)),
            ...Array.from({ length: 4 }, (_, index) =>
              reader(store, withEventualConsistency(), `${name}-${index}`, over, reads),
            ),
          ]);
          // Back without a new store: eventual reads succeed again (retried while the handle reconnects).
          await cluster().waitForReplay();
          let recovered = false;
          for (let attempt = 0; attempt < 50 && !recovered; attempt++) {
            recovered =
              (await timed(reads, () => store.query(withEventualConsistency(), boundary(name)))) === 'ok';
            if (!recovered) await pause(100);
          }
          const table = await checkTable(direct, tableName, tally);
          report.push({
            adapter: name,
            fault: 'reply cuts, drops, replica down 1.5 s',
            calls: tally.log.length,
            appends: codes(tally),
            'cuts/drops': `${faults.cuts}/${faults.drops}`,
            'p50 ms to error': median(failedIn(tally, 0, Number.POSITIVE_INFINITY)),
            'max ms of a call': longest(tally),
            ...table,
            'eventual reads': codes(reads),
            'longest read ms': longest(reads),
          });
          expect(faults.cuts + faults.drops).toBeGreaterThan(5);
          expect(longest(tally), 'a call outlived its bound').toBeLessThan(LONGEST_CALL_MS);
          expect(longest(reads), 'a read outlived its bound').toBeLessThan(LONGEST_CALL_MS);
          expect(reads.byCode.ok, 'eventual reads succeeded').toBeGreaterThan(0);
          expect(recovered, 'eventual reads work again after the replica is back').toBe(true);
        });
      } finally {
        await proxy.close();
      }
    }, 60_000);

    it(`${name}: the primary killed for 2 s, then stalled for 1.5 s, under ${WRITERS} writers and strong and eventual readers`, async (t) => {
      if (!cluster().canStopReplica) t.skip('this cluster cannot stop its primary (external servers)');
      await withStore(open, cluster().primaryUrl, name, async (store, direct, tableName) => {
        const tally = writes();
        const strong = calls();
        const eventual = calls();
        const marks = { down: 0, up: 0, unstalled: 0 };
        const faults = async () => {
          await pause(700);
          await cluster().stopPrimary();
          marks.down = performance.now();
          await pause(2_000);
          await cluster().startPrimary();
          marks.up = performance.now();
          await pause(1_000);
          await cluster().stallPrimary();
          await pause(1_500);
          await cluster().unstallPrimary();
          marks.unstalled = performance.now();
          await pause(1_000);
        };
        let done = false;
        const over = () => done;
        await Promise.all([
          faults().finally(() => {
            done = true;
          }),
          ...Array.from({ length: WRITERS }, (_, index) => writer(store, `${name}-${index}`, over, tally)),
          ...Array.from({ length: 4 }, (_, index) =>
            reader(store, withStrongConsistency(), `${name}-${index}`, over, strong),
          ),
          ...Array.from({ length: 2 }, (_, index) =>
            reader(store, withEventualConsistency(), `${name}-${index}`, over, eventual),
          ),
        ]);
        await cluster().waitForReplay();
        const table = await checkTable(direct, tableName, tally);
        const downErrors = [
          ...failedIn(tally, marks.down, marks.up),
          ...failedIn(strong, marks.down, marks.up),
        ];
        const slowestDown = Math.round(downErrors.reduce((most, ms) => Math.max(most, ms), 0));
        const recovery = {
          append: recoveredAfter(tally, marks.up),
          strong: recoveredAfter(strong, marks.up),
          afterStall: recoveredAfter(tally, marks.unstalled),
        };
        report.push({
          adapter: name,
          fault: 'primary killed 2 s, stalled 1.5 s',
          calls: tally.log.length + strong.log.length,
          appends: codes(tally),
          'strong reads': codes(strong),
          'p50 / max ms to error, primary down': `${median(downErrors)} / ${slowestDown}`,
          'recover ms (append / strong / after stall)': `${recovery.append} / ${recovery.strong} / ${recovery.afterStall}`,
          'max ms of a call': Math.max(longest(tally), longest(strong)),
          ...table,
          'eventual reads': codes(eventual),
        });
        expect(downErrors.length, 'calls failed while the primary was down').toBeGreaterThan(0);
        expect(slowestDown, 'a call to the down primary took longer than its connect bound').toBeLessThan(
          DOWN_FAILS_WITHIN_MS,
        );
        expect(recovery.append, 'appends succeed again soon after the primary is back').toBeLessThan(
          RECOVERS_WITHIN_MS,
        );
        expect(recovery.strong, 'strong reads succeed again soon after the primary is back').toBeLessThan(
          RECOVERS_WITHIN_MS,
        );
        expect(recovery.afterStall, 'appends succeed again soon after the stall').toBeLessThan(
          RECOVERS_WITHIN_MS,
        );
        expect(longest(tally), 'an append outlived its bound').toBeLessThan(LONGEST_CALL_MS);
        expect(longest(strong), 'a strong read outlived its bound').toBeLessThan(LONGEST_CALL_MS);
        expect(eventual.byCode, 'eventual reads on the replica never noticed').toEqual({
          ok: eventual.log.length,
        });
      });
    }, 60_000);
  }
});
