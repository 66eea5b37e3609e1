import type { EventStore, Row, StoreOptions } from '@es/core';
import { fromDrizzleAndReplica, fromDrizzleAndReplicas } from '@es/drizzle';
import { fromKyselyAndReplica, fromKyselyAndReplicas } from '@es/kysely';
import { fromNeonPoolAndReplica, fromNeonPoolAndReplicas } from '@es/neon';
import { fromPgPoolAndReplica, fromPgPoolAndReplicas } from '@es/pg';
import { fromPostgresJsAndReplica, fromPostgresJsAndReplicas } from '@es/postgresjs';
import { Pool as NeonPool } from '@neondatabase/serverless';
import { type SQLChunk, sql } from 'drizzle-orm';
import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import { CompiledQuery, Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import postgres from 'postgres';
import { pgSend, type Send } from './mechanisms.js';

/** One adapter: how to reach a server with its driver, send a statement raw, build the store, close. */
export interface Flavour<C> {
  readonly adapter: string;
  connect(url: string): C;
  /** Sends a statement as a user of the raw driver would, the way the adapter sends it. */
  send(client: C): Send;
  store(primary: C, replica: C, options: StoreOptions): EventStore;
  /** The store on a primary and several replicas (the adapter's `from...AndReplicas`). */
  storeWithReplicas(primary: C, replicas: readonly C[], options: StoreOptions): EventStore;
  close(client: C): Promise<unknown>;
}

const CONNECTIONS = 24;
const TIMEOUT_MS = 5_000;

const quiet = <P extends { on(event: 'error', listener: () => void): unknown }>(pool: P) => {
  pool.on('error', () => {}); // an idle client of a stopping server must not crash the run
  return pool;
};

/** A node-postgres pool as the benchmarks use it. */
export const newPgPool = (connectionString: string) =>
  quiet(new pg.Pool({ connectionString, max: CONNECTIONS, connectionTimeoutMillis: TIMEOUT_MS }));

export const pgFlavour: Flavour<pg.Pool> = {
  adapter: '@es/pg',
  connect: newPgPool,
  send: pgSend, // pool.query({ text, values })
  store: fromPgPoolAndReplica,
  storeWithReplicas: fromPgPoolAndReplicas,
  close: (pool) => pool.end(),
};

export const postgresJsFlavour: Flavour<postgres.Sql> = {
  adapter: '@es/postgresjs',
  connect: (url) =>
    postgres(url, { max: CONNECTIONS, connect_timeout: TIMEOUT_MS / 1000, onnotice: () => {} }),
  // What @es/postgresjs sends: every value typed as text (OID 25), prepared only for function calls.
  send: (db) => async (statement) => {
    const parameters = statement.values.map((value) => db.typed(value, 25));
    return {
      rows: await db.unsafe(statement.text, parameters, { prepare: statement.reusablePlan === true }),
    };
  },
  store: fromPostgresJsAndReplica,
  storeWithReplicas: fromPostgresJsAndReplicas,
  close: (db) => db.end({ timeout: 5 }),
};

/** Neon's Pool reaches the local servers through the WebSocket relay (`neonConfig` set by the caller). */
export const neonFlavour: Flavour<NeonPool> = {
  adapter: '@es/neon (WebSocket Pool, relay)',
  connect: (connectionString) =>
    quiet(new NeonPool({ connectionString, max: CONNECTIONS, connectionTimeoutMillis: TIMEOUT_MS })),
  send: (pool) => (statement) => pool.query({ text: statement.text, values: [...statement.values] }),
  store: fromNeonPoolAndReplica,
  storeWithReplicas: fromNeonPoolAndReplicas,
  close: (pool) => pool.end(),
};

export const kyselyFlavour: Flavour<Kysely<unknown>> = {
  adapter: '@es/kysely (pg dialect)',
  connect: (url) => new Kysely({ dialect: new PostgresDialect({ pool: newPgPool(url) }) }),
  // Kysely's raw path: db.executeQuery(CompiledQuery.raw(text, values)).
  send: (db) => (statement) => db.executeQuery<Row>(CompiledQuery.raw(statement.text, [...statement.values])),
  store: fromKyselyAndReplica,
  storeWithReplicas: fromKyselyAndReplicas,
  close: (db) => db.destroy(),
};

export const drizzleFlavour: Flavour<NodePgDatabase & { $client: pg.Pool }> = {
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
  storeWithReplicas: fromDrizzleAndReplicas,
  close: (db) => db.$client.end(),
};

/** Every adapter, in the order the tables list them. */
export const FLAVOURS: readonly Flavour<never>[] = [
  pgFlavour,
  postgresJsFlavour,
  neonFlavour,
  kyselyFlavour,
  drizzleFlavour,
] as Flavour<never>[];
