/**
 * Each adapter's overhead over its own driver, in the same run on the same primary + replica: guarded
 * appends on disjoint boundaries (each caller its own boundary, knowing its max) and eventual queries of
 * a small boundary on the replica, through the es store and through the raw driver sending the very
 * statement the store sends (`appendStatement`, `queryStatement(..., false)`). Compare the es/raw
 * ratios, not the absolute numbers (shared, noisy machines).
 *
 *   pnpm --filter @es/bench bench:adapters
 *   BENCH_SECONDS=10 BENCH_WRITERS=16 pnpm --filter @es/bench bench:adapters
 */
import {
  type EventStore,
  parseTableName,
  queryStatement,
  type Row,
  type StoreOptions,
  withEventualConsistency,
} from '@es/core';
import { fromDrizzleAndReplica } from '@es/drizzle';
import { fromKyselyAndReplica } from '@es/kysely';
import { fromNeonPoolAndReplica } from '@es/neon';
import { fromPgPoolAndReplica } from '@es/pg';
import { fromPostgresJsAndReplica } from '@es/postgresjs';
import { type Cluster, startCluster, startWebSocketRelay, type WebSocketRelay } from '@es/testing';
import { Pool as NeonPool, neonConfig } from '@neondatabase/serverless';
import { type SQLChunk, sql } from 'drizzle-orm';
import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import { CompiledQuery, Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import postgres from 'postgres';
import { boundaryFilter, esStore, type Mechanism, pgSend, rawSameSql, type Send } from './mechanisms.js';
import { printTable } from './table.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CALLERS = Number(process.env.BENCH_WRITERS ?? 16);
const TIMEOUT_MS = 5_000;

/** One adapter: how to reach a server with its driver, send a statement raw, build the store, close. */
interface Flavour<C> {
  adapter: string;
  connect(url: string): C;
  send(client: C): Send;
  store(primary: C, replica: C, options: StoreOptions): EventStore;
  close(client: C): Promise<unknown>;
}

const quiet = <P extends { on(event: 'error', listener: () => void): unknown }>(pool: P) => {
  pool.on('error', () => {}); // an idle client of a stopping server must not crash the run
  return pool;
};
const newPgPool = (connectionString: string) =>
  quiet(new pg.Pool({ connectionString, max: CALLERS, connectionTimeoutMillis: TIMEOUT_MS }));

const pgFlavour: Flavour<pg.Pool> = {
  adapter: '@es/pg',
  connect: newPgPool,
  send: pgSend, // pool.query({ text, values })
  store: fromPgPoolAndReplica,
  close: (pool) => pool.end(),
};
const postgresJsFlavour: Flavour<postgres.Sql> = {
  adapter: '@es/postgresjs',
  connect: (url) => postgres(url, { max: CALLERS, connect_timeout: TIMEOUT_MS / 1000, onnotice: () => {} }),
  // What @es/postgresjs sends: every value typed as text (OID 25), prepared.
  send: (db) => async (statement) => {
    const parameters = statement.values.map((value) => db.typed(value, 25));
    return { rows: await db.unsafe(statement.text, parameters, { prepare: true }) };
  },
  store: fromPostgresJsAndReplica,
  close: (db) => db.end({ timeout: 5 }),
};
const neonFlavour: Flavour<NeonPool> = {
  adapter: '@es/neon (WebSocket Pool)',
  connect: (connectionString) =>
    quiet(new NeonPool({ connectionString, max: CALLERS, connectionTimeoutMillis: TIMEOUT_MS })),
  send: (pool) => (statement) => pool.query({ text: statement.text, values: [...statement.values] }),
  store: fromNeonPoolAndReplica,
  close: (pool) => pool.end(),
};
const kyselyFlavour: Flavour<Kysely<unknown>> = {
  adapter: '@es/kysely (pg dialect)',
  connect: (url) => new Kysely({ dialect: new PostgresDialect({ pool: newPgPool(url) }) }),
  // Kysely's raw path: db.executeQuery(CompiledQuery.raw(text, values)).
  send: (db) => (statement) => db.executeQuery<Row>(CompiledQuery.raw(statement.text, [...statement.values])),
  store: fromKyselyAndReplica,
  close: (db) => db.destroy(),
};
const drizzleFlavour: Flavour<NodePgDatabase & { $client: pg.Pool }> = {
  adapter: '@es/drizzle (node-postgres)',
  connect: (url) => drizzle({ client: newPgPool(url) }),
  // Drizzle's raw SQL path: db.execute(sql`...`), the statement's $n placeholders as sql.param(value).
  send: (db) => (statement) => {
    const chunks = statement.text
      .split(/\$(\d+)/)
      .map((part, i): SQLChunk => (i % 2 ? sql.param(statement.values[Number(part) - 1]) : sql.raw(part)));
    return db.execute<Row>(sql.join(chunks));
  },
  store: fromDrizzleAndReplica,
  close: (db) => db.$client.end(),
};

type Operation = () => Promise<unknown>;

/** Runs `operations` (one per caller) in concurrent loops for `seconds`: how many completed, in how long. */
async function run(operations: Operation[], seconds: number) {
  let count = 0;
  const started = performance.now();
  const loop = async (operation: Operation) => {
    for (; performance.now() < started + seconds * 1000; count++) await operation();
  };
  await Promise.all(operations.map(loop));
  return { operations, count, seconds: (performance.now() - started) / 1000 };
}

/**
 * es and raw ops/s, SECONDS each, after one warm-up call per caller. They run in half slots ordered es,
 * raw, raw, es, so a drift of the machine during the row (other load, a checkpoint) weighs on both alike.
 */
async function compare(es: Operation[], raw: Operation[]) {
  await Promise.all([...es, ...raw].map((operation) => operation()));
  const slots: Awaited<ReturnType<typeof run>>[] = [];
  for (const side of [es, raw, raw, es]) slots.push(await run(side, SECONDS / 2));
  const rate = (side: Operation[]) => {
    const mine = slots.filter((slot) => slot.operations === side);
    return (
      mine.reduce((sum, slot) => sum + slot.count, 0) / mine.reduce((sum, slot) => sum + slot.seconds, 0)
    );
  };
  return { es: rate(es), raw: rate(raw) };
}

/** Guarded appends, each caller on its own boundary and knowing its max (append only, no read). */
const appenders = (mechanism: Mechanism, prefix = 'writer'): Operation[] =>
  Array.from({ length: CALLERS }, (_, caller) => {
    let knownMax = 0n;
    return async () => {
      const attempt = await mechanism.append(`${prefix}-${caller}`, knownMax);
      if (!attempt.ok) throw new Error(`${mechanism.name}: conflict on a boundary with a single writer`);
      knownMax = attempt.position;
    };
  });

async function measure<C>(flavour: Flavour<C>, cluster: Cluster, schema: string): Promise<string[][]> {
  const [primary, replica] = [flavour.connect(cluster.primaryUrl), flavour.connect(cluster.replicaUrl)];
  const raw = { primary: flavour.send(primary), replica: flavour.send(replica) };
  const tables = { es: `${schema}.es_events`, raw: `${schema}.raw_events` };
  try {
    const store = flavour.store(primary, replica, { tableName: tables.es });
    await store.migrate();
    await flavour.store(primary, replica, { tableName: tables.raw }).migrate();
    // Appends: es and raw each on a table of their own, so neither works on a table the other has grown.
    const rawAppender = rawSameSql(raw.primary, tables.raw, 'raw');
    const appends = await compare(appenders(esStore(store, 'es')), appenders(rawAppender));
    // Queries: a small boundary (5 events), replayed on the replica, read by every caller.
    const seed = appenders(esStore(store, 'seed'), 'small')[0] as Operation;
    for (let i = 0; i < 5; i++) await seed();
    await cluster.waitForReplay();
    const [filter, eventual] = [boundaryFilter('small-0'), withEventualConsistency()];
    // Raw sends one statement built up front; the store builds it per call (part of its overhead).
    const statement = queryStatement(parseTableName(tables.es), filter, false);
    const callers = (operation: Operation) => Array.from({ length: CALLERS }, () => operation);
    const queries = await compare(
      callers(() => store.query(eventual, filter)),
      callers(() => raw.replica(statement)),
    );
    const row = (workload: string, rate: { es: number; raw: number }) => [
      flavour.adapter,
      workload,
      rate.es.toFixed(0),
      rate.raw.toFixed(0),
      (rate.es / rate.raw).toFixed(2),
    ];
    return [row('guarded append, disjoint', appends), row('eventual query, replica', queries)];
  } finally {
    const drop = { name: 'drop', text: `DROP SCHEMA IF EXISTS "${schema}" CASCADE`, values: [] };
    await raw.primary(drop).catch(() => {});
    await Promise.all([flavour.close(primary), flavour.close(replica)]);
  }
}

let cluster: Cluster | undefined;
let relay: WebSocketRelay | undefined;
try {
  cluster = await startCluster();
  relay = await startWebSocketRelay();
  Object.assign(neonConfig, relay.neonConfig); // Neon's Pool reaches the local servers through the relay
  const rows: string[][] = [];
  const schema = (name: string) => `bench_overhead_${process.pid}_${name}`;
  rows.push(...(await measure(pgFlavour, cluster, schema('pg'))));
  rows.push(...(await measure(postgresJsFlavour, cluster, schema('postgresjs'))));
  rows.push(...(await measure(neonFlavour, cluster, schema('neon'))));
  rows.push(...(await measure(kyselyFlavour, cluster, schema('kysely'))));
  rows.push(...(await measure(drizzleFlavour, cluster, schema('drizzle'))));
  const title = `\nadapter overhead: ${CALLERS} callers, ${SECONDS} s per measurement, node ${process.version}`;
  printTable(title, ['adapter', 'workload', 'es ops/s', 'raw ops/s', 'es/raw'], rows);
} finally {
  await relay?.close();
  await cluster?.stop();
}
