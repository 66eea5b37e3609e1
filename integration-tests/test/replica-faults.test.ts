import { type OperationReport, withEventualConsistency } from '@es/core';
import { fromPgPool } from '@es/pg';
import { describe, expect, it } from 'vitest';
import { ADAPTERS } from './adapters.js';
import {
  BOUNDS,
  boundary,
  calls,
  checkTable,
  codes,
  longest,
  median,
  pause,
  reader,
  useRelayAndReport,
  waitUntil,
  writer,
  writes,
} from './fault-load.js';
import { freshTable, pool, useCluster } from './helpers.js';

/**
 * Two replicas under load, for every adapter (issue: read scaling under faults): 16 writers and 8 eventual
 * readers, one replica stopped for 1.5 s, then (once the store uses it again) the other stalled for 2.5 s.
 * Writers never notice; every eventual read is answered (by the other replica: `replicaFallback:
 * 'next-replica'`) within the replica bound; both replicas serve again once back, with the same store.
 */
describe('two replicas under load, every adapter: one stopped, the other stalled; reads fail over and come back', () => {
  const cluster = useCluster({ replicas: 2 });
  const report: Record<string, unknown>[] = [];
  // Under 16 writers on a shared 2-core machine, a healthy replica's read (with a reconnect) can take
  // longer than 500 ms: a bound that tight turns one stalled replica into two unavailable ones.
  const REPLICA_TIMEOUT_MS = 1_000;
  useRelayAndReport(report);

  for (const [name, open] of Object.entries(ADAPTERS)) {
    it(`${name}: replica-1 stopped 1.5 s, then replica-2 stalled 2.5 s, under 16 writers and 8 eventual readers`, async (t) => {
      if (!cluster().canStopReplica) t.skip('this cluster cannot stop its replicas (external servers)');
      const tableName = freshTable('faults2');
      const direct = pool(cluster().primaryUrl);
      await fromPgPool(direct, { tableName }).migrate();
      await cluster().waitForReplay();
      const served: Record<string, number> = {};
      const onOperation = (operation: OperationReport) => {
        if (operation.operation === 'eventstore.query' && operation.outcome === 'ok' && operation.serverName)
          served[operation.serverName] = (served[operation.serverName] ?? 0) + 1;
      };
      // The circuits' changes, in test time: a failure message says which circuit opened when.
      const started = performance.now();
      const circuits: string[] = [];
      const logCircuit = (message: string, fields?: { replica?: unknown }) => {
        if (message.startsWith('replica circuit'))
          circuits.push(`${Math.round(performance.now() - started)} ms ${fields?.replica}: ${message}`);
      };
      const opened = open(cluster().primaryUrl, cluster().replicaUrls, {
        tableName,
        logger: { warn: logCircuit, info: logCircuit },
        ...BOUNDS,
        replicaTimeoutMs: REPLICA_TIMEOUT_MS,
        replicaFallback: 'next-replica',
        hooks: { onOperation },
      });
      const tally = writes();
      const reads = calls();
      try {
        let done = false;
        let recoveredMs = 0;
        const faults = async () => {
          await pause(700);
          await cluster().stopReplica(0);
          await pause(1_500);
          await cluster().startReplica(0);
          const back = performance.now();
          // The second fault waits until the store uses replica-1 again (its probe closed the circuit).
          await waitUntil(async () => (await opened.store.replicationStatus())[0]?.circuit === 'closed');
          recoveredMs = Math.round(performance.now() - back);
          // ...and until it has served 20 reads again: the faults do not overlap.
          const servedBefore = served['replica-1'] ?? 0;
          await waitUntil(async () => (served['replica-1'] ?? 0) >= servedBefore + 20);
          await cluster().stallReplica(1);
          await pause(2_500);
          await cluster().unstallReplica(1);
          await pause(500);
        };
        await Promise.all([
          faults().finally(() => {
            done = true;
          }),
          ...Array.from({ length: 16 }, (_, index) =>
            writer(opened.store, `${name}-${index}`, () => done, tally),
          ),
          ...Array.from({ length: 8 }, (_, index) =>
            reader(opened.store, withEventualConsistency(), `${name}-${index}`, () => done, reads),
          ),
        ]);
        const during = { ...served };
        // Both circuits close again (the probe), and then reads go to both replicas, with the same store.
        await waitUntil(async () => {
          const status = await opened.store.replicationStatus();
          return status.every((replica) => replica.circuit === 'closed');
        });
        for (const key of Object.keys(served)) delete served[key];
        for (let read = 0; read < 4; read++)
          await opened.store.query(withEventualConsistency(), boundary(name));
        const table = await checkTable(direct, tableName, tally);
        report.push({
          adapter: name,
          appends: codes(tally),
          'eventual reads': codes(reads),
          'served by replica-1 / replica-2': `${during['replica-1'] ?? 0} / ${during['replica-2'] ?? 0}`,
          'replica-1 back → circuit closed ms': recoveredMs,
          'longest read ms': longest(reads),
          'p50 read ms': median(reads.log.map(([start, end]) => end - start)),
          ...table,
        });
        expect(tally.byCode, 'writers on the primary never noticed').toEqual({ ok: tally.log.length });
        expect(reads.byCode, `every eventual read was answered; circuits:\n${circuits.join('\n')}`).toEqual({
          ok: reads.log.length,
        });
        expect(longest(reads), 'a read waited past the replica bound and a failover').toBeLessThan(
          REPLICA_TIMEOUT_MS + 1_500,
        );
        expect(Object.keys(served).sort(), 'both replicas serve again').toEqual(['replica-1', 'replica-2']);
      } finally {
        await Promise.race([opened.close(), pause(5_000)]);
        await direct.end();
      }
    }, 60_000);
  }
});
