/**
 * Each adapter's own overhead over its raw driver, on one primary + replica: guarded appends on disjoint
 * boundaries (16 callers, each on books of its own, knowing their max) and eventual reads of a 5-event
 * boundary on the replica, through the es store and through the raw driver sending the very statements
 * the store sends (`appendStatement` for one append, `queryStatement`). The store runs with
 * `appendBatching: false` here, so both sides send the same statements one by one: the difference is the
 * adapter and the store's own work (validation, keys, routing, decoding, hooks). Rounds alternate es and
 * raw, order rotated; the table shows medians, es/raw, and every round.
 *
 *   pnpm --filter @es/bench bench:adapters        # BENCH_SECONDS, BENCH_ROUNDS
 */
import { type EventStore, withEventualConsistency } from '@es/core';
import { type Cluster, startCluster, startWebSocketRelay } from '@es/testing';
import { neonConfig } from '@neondatabase/serverless';
import { FLAVOURS, type Flavour } from './adapters.js';
import { load, median, rate, rounds } from './measure.js';
import { boundary, disjointAppends, esStore, rawAppend, rawRead } from './mechanisms.js';
import { printTable } from './table.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CALLERS = 16;
async function measure<C>(flavour: Flavour<C>, cluster: Cluster, schema: string) {
  const [primary, replica] = [flavour.connect(cluster.primaryUrl), flavour.connect(cluster.replicaUrl)];
  const tables = { es: `${schema}.es_events`, raw: `${schema}.raw_events` };
  try {
    const options = { tableName: tables.es, appendBatching: false } as const;
    const store: EventStore = flavour.store(primary, replica, options);
    await store.migrate();
    await flavour.store(primary, replica, { tableName: tables.raw }).migrate();
    const es = esStore(store, 'es');
    const raw = rawAppend(flavour.send(primary), tables.raw, 'raw');
    const appendVariants = [disjointAppends(es, CALLERS, SECONDS), disjointAppends(raw, CALLERS, SECONDS)];
    await rounds(appendVariants, 1); // warm-up (fresh tables and connections), not measured
    const appended = await rounds(appendVariants, ROUNDS);
    // Reads: a 5-event boundary, replayed on the replica, read by every caller.
    let known = 0n;
    for (let index = 0; index < 5; index++) known = await es.append('small-0', known, 1);
    // Fresh statistics before the reads, or autovacuum's ANALYZE of the tables the appends just filled
    // lands mid-run and changes the plan between rounds.
    await flavour.send(primary)({ text: `ANALYZE ${tables.es}, ${tables.raw}`, values: [], name: 'analyze' });
    await cluster.waitForReplay();
    const readRaw = rawRead(flavour.send(replica), tables.es, false, 'raw');
    const eventual = withEventualConsistency();
    const callers = (read: () => Promise<unknown>) => Array.from({ length: CALLERS }, () => read);
    const read = await rounds(
      [
        {
          name: 'es',
          run: () =>
            rate(
              callers(() => store.query(eventual, boundary('small-0'))),
              SECONDS,
            ),
        },
        {
          name: 'raw',
          run: () =>
            rate(
              callers(() => readRaw.read('small-0')),
              SECONDS,
            ),
        },
      ],
      ROUNDS,
    );
    const row = (workload: string, results: Map<string, number[]>) => {
      const [es, raw] = [results.get('es') ?? [], results.get('raw') ?? []];
      return [
        flavour.adapter,
        workload,
        median(es).toFixed(0),
        median(raw).toFixed(0),
        (median(es) / median(raw)).toFixed(2),
        es.map((value, index) => `${(value / (raw[index] ?? 1)).toFixed(2)}`).join(' / '),
      ];
    };
    return [row('guarded append, disjoint', appended), row('eventual query, replica', read)];
  } finally {
    await Promise.all([flavour.close(primary), flavour.close(replica)]);
  }
}

const cluster = await startCluster();
const relay = await startWebSocketRelay();
try {
  Object.assign(neonConfig, relay.neonConfig); // Neon's Pool reaches the local servers through the relay
  const rows: string[][] = [];
  for (const [index, flavour] of FLAVOURS.entries()) {
    rows.push(...(await measure(flavour, cluster, `bench_overhead_${process.pid}_${index}`)));
  }
  printTable(
    `\nadapter overhead: ${CALLERS} callers, ${SECONDS} s per measurement, ${ROUNDS} rounds, node ${process.version}, load average ${load()}`,
    ['adapter', 'workload', 'es ops/s (median)', 'raw ops/s (median)', 'es/raw', 'es/raw per round'],
    rows,
  );
} finally {
  await relay.close();
  await cluster.stop();
}
