import type { EventStore } from '@es/core';
import { fromDrizzleAndReplica } from '@es/drizzle';
import { fromKyselyAndReplica } from '@es/kysely';
import { fromNeonPoolAndReplica } from '@es/neon';
import { fromPgPoolAndReplica } from '@es/pg';
import { fromPostgresJsAndReplica } from '@es/postgresjs';
import { Pool as NeonPool } from '@neondatabase/serverless';
import { drizzle } from 'drizzle-orm/node-postgres';
import { Kysely, PostgresDialect } from 'kysely';
import postgres from 'postgres';
import { pool } from './helpers.js';

/** Opens one adapter's store on a primary and a replica URL (Neon's Pool needs `neonConfig` set to a relay). */
export type Open = (
  primaryUrl: string,
  replicaUrl: string,
  options: Parameters<typeof fromPgPoolAndReplica>[2],
) => {
  store: EventStore;
  close(): Promise<unknown>;
};

export const ADAPTERS: Record<string, Open> = {
  pg: (primaryUrl, replicaUrl, options) => {
    const [primary, replica] = [pool(primaryUrl), pool(replicaUrl)];
    return {
      store: fromPgPoolAndReplica(primary, replica, options),
      close: () => Promise.all([primary.end(), replica.end()]),
    };
  },
  'postgres.js': (primaryUrl, replicaUrl, options) => {
    const connect = (url: string) => postgres(url, { max: 5, connect_timeout: 5, onnotice: () => {} });
    const [primary, replica] = [connect(primaryUrl), connect(replicaUrl)];
    return {
      store: fromPostgresJsAndReplica(primary, replica, options),
      close: () => Promise.all([primary.end({ timeout: 5 }), replica.end({ timeout: 5 })]),
    };
  },
  neon: (primaryUrl, replicaUrl, options) => {
    const connect = (url: string) => {
      const created = new NeonPool({ connectionString: url, max: 5, connectionTimeoutMillis: 5_000 });
      created.on('error', () => {});
      return created;
    };
    const [primary, replica] = [connect(primaryUrl), connect(replicaUrl)];
    return {
      store: fromNeonPoolAndReplica(primary, replica, options),
      close: () => Promise.all([primary.end(), replica.end()]),
    };
  },
  kysely: (primaryUrl, replicaUrl, options) => {
    const connect = (url: string) => {
      const created = pool(url);
      // Kysely checks clients out: one whose connection breaks mid-query emits 'error' (see its README).
      created.on('connect', (client) => client.on('error', () => {}));
      return new Kysely<unknown>({ dialect: new PostgresDialect({ pool: created }) });
    };
    const [primary, replica] = [connect(primaryUrl), connect(replicaUrl)];
    return {
      store: fromKyselyAndReplica(primary, replica, options),
      close: () => Promise.all([primary.destroy(), replica.destroy()]),
    };
  },
  drizzle: (primaryUrl, replicaUrl, options) => {
    const [primary, replica] = [drizzle({ client: pool(primaryUrl) }), drizzle({ client: pool(replicaUrl) })];
    return {
      store: fromDrizzleAndReplica(primary, replica, options),
      close: () => Promise.all([primary.$client.end(), replica.$client.end()]),
    };
  },
};
