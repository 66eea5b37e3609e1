// Scratch A/B (not committed): what the pg driver change and the in_recovery column cost an eventual read.
import { buildEventFilter, createEventStore, type Driver, P, queryStatement, withEventualConsistency } from '@es/core';
import { fromPgPool, pgDriver } from '@es/pg';
import { startCluster } from '@es/testing';
import pg from 'pg';
import { parseTableName } from '@es/core';

const cluster = await startCluster({});
const primary = new pg.Pool({ connectionString: cluster.primaryUrl, max: 4 });
const replica = new pg.Pool({ connectionString: cluster.replicaUrl, max: 4 });
const tableName = 'ab_events';
await fromPgPool(primary, { tableName }).migrate();
await primary.query(`INSERT INTO ab_events (event_type, occurred_at, payload)
  SELECT 'BookCopyLentToReader', now(), jsonb_build_object('BookID', 'b-' || (i % 20000), 'n', i) FROM generate_series(1, 200000) i`);
await primary.query('ANALYZE ab_events');
await cluster.waitForReplay();
const newDriver = pgDriver(replica);
const oldDriver: Driver = { ...newDriver, query: (s, o) => (o?.signal ? newDriver.query(s, o) : replica.query({ text: s.text, values: [...s.values] })) };
const storeNew = createEventStore(pgDriver(primary), newDriver, { tableName });
const storeOld = createEventStore(pgDriver(primary), oldDriver, { tableName });
const names = parseTableName(tableName);
const filter = (book: string) => buildEventFilter().matching().allPredicatesOf(P('BookID', book)).finalize();
const ctx = withEventualConsistency();
const withColumn = (book: string) => queryStatement(names, filter(book), false);
const without = (book: string) => {
  const s = withColumn(book);
  return { ...s, text: s.text.replace(',\n  (SELECT pg_is_in_recovery())::text AS in_recovery', '') };
};
const plainText = (book: string) => queryStatement(names, filter(book), false);
const stateText = (book: string) => queryStatement(names, filter(book), false, true);
const initPlan = (book: string) => {
  const st = stateText(book);
  return { ...st, text: st.text.replace('coalesce(pg_last_wal_replay_lsn(), pg_current_wal_insert_lsn())::text AS state_lsn', '(SELECT coalesce(pg_last_wal_replay_lsn(), pg_current_wal_insert_lsn()))::text AS state_lsn') };
};
const send = (s: { text: string; values: readonly (string | null)[] }) => replica.query({ text: s.text, values: [...s.values] });
const variants: Record<string, (book: string) => Promise<unknown>> = {
  'raw store SELECT without': (b) => send(plainText(b)),
  'raw with state per row': (b) => send(stateText(b)),
  'raw with state InitPlan': (b) => send(initPlan(b)),
};
const results: Record<string, number[]> = {};
const names2 = Object.keys(variants);
for (let round = 0; round < 7; round++) {
  const order = names2.map((_, i) => names2[(i + round) % names2.length] as string);
  for (const name of order) {
    const times: number[] = [];
    for (let i = 0; i < 1500; i++) {
      const started = performance.now();
      await variants[name]?.(`b-${(i * 7919) % 20000}`);
      times.push(performance.now() - started);
    }
    times.sort((a, b) => a - b);
    (results[name] ??= []).push(times[times.length >> 1] as number);
  }
}
const { loadavg } = await import('node:os');
console.log('load', loadavg().map((x) => x.toFixed(2)).join(' '));
const base = results['raw store SELECT without'] as number[];
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1] as number;
for (const [name, rounds] of Object.entries(results))
  console.log(name.padEnd(36), median(rounds).toFixed(3), (median(rounds) / median(base)).toFixed(3) + 'x', rounds.map((x) => x.toFixed(3)).join(' / '));
await Promise.all([primary.end(), replica.end()]);
await cluster.stop();
