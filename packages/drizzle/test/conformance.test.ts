import { runConformance } from '@es/conformance';
import { startWebSocketRelay, type WebSocketRelay } from '@es/testing';
import { Pool as NeonPool, neonConfig } from '@neondatabase/serverless';
import { drizzle as drizzleNeon, type NeonDatabase } from 'drizzle-orm/neon-serverless';
import { drizzle as drizzleNodePg, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import { drizzle as drizzlePostgresJs, type PostgresJsDatabase } from 'drizzle-orm/postgres-js';
import pg from 'pg';
import postgres from 'postgres';
import { afterAll } from 'vitest';
import { fromDrizzle, fromDrizzleAndReplica, fromDrizzleAndReplicas } from '../src/index.js';

type NodePgDb = NodePgDatabase & { $client: pg.Pool };
type NeonDb = NeonDatabase & { $client: NeonPool };
type PostgresJsDb = PostgresJsDatabase & { $client: postgres.Sql };

runConformance<NodePgDb>({
  name: 'drizzle (node-postgres)',
  setup: () => ({
    connect: (url, options) => {
      const pool = new pg.Pool({
        connectionString: url,
        max: 20,
        connectionTimeoutMillis: options?.connectTimeoutMs ?? 5000,
      });
      // Idle clients emit 'error' when their server stops; unhandled, that would crash the process.
      pool.on('error', () => {});
      return drizzleNodePg({ client: pool });
    },
    disconnect: (db) => db.$client.end(),
    fromSingle: fromDrizzle,
    fromPrimaryAndReplica: fromDrizzleAndReplica,
    fromPrimaryAndReplicas: fromDrizzleAndReplicas,
  }),
});

runConformance<PostgresJsDb>({
  name: 'drizzle (postgres-js)',
  setup: () => ({
    connect: (url, options) => {
      const sql = postgres(url, {
        max: 20,
        connect_timeout: (options?.connectTimeoutMs ?? 5000) / 1000, // seconds
        onnotice: () => {},
      });
      return drizzlePostgresJs({ client: sql });
    },
    // The timeout (seconds) destroys connections that do not close in time, so a test never hangs here.
    disconnect: (db) => db.$client.end({ timeout: 5 }),
    fromSingle: fromDrizzle,
    fromPrimaryAndReplica: fromDrizzleAndReplica,
    fromPrimaryAndReplicas: fromDrizzleAndReplicas,
  }),
});

// Neon's Pool speaks the PostgreSQL protocol over a WebSocket: a local relay (from @es/testing) pipes it
// to the cluster. neonConfig is global to the module, so one relay serves the whole file.
let relay: WebSocketRelay | undefined;
afterAll(() => relay?.close());

runConformance<NeonDb>({
  name: 'drizzle (neon-serverless)',
  setup: async () => {
    relay = await startWebSocketRelay();
    Object.assign(neonConfig, relay.neonConfig);
    return {
      connect: (url, options) => {
        const pool = new NeonPool({
          connectionString: url,
          max: 20,
          connectionTimeoutMillis: options?.connectTimeoutMs ?? 5000,
        });
        pool.on('error', () => {});
        return drizzleNeon({ client: pool });
      },
      disconnect: (db) => db.$client.end(),
      fromSingle: fromDrizzle,
      fromPrimaryAndReplica: fromDrizzleAndReplica,
      fromPrimaryAndReplicas: fromDrizzleAndReplicas,
    };
  },
});
