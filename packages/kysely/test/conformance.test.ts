import { runConformance } from '@es/conformance';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { fromKysely, fromKyselyAndReplica, fromKyselyAndReplicas } from '../src/index.js';

/** Kysely on its built-in pg dialect (`PostgresDialect` over a `pg.Pool`). */
runConformance<Kysely<Record<string, never>>>({
  name: 'kysely (PostgresDialect, pg)',
  setup: () => ({
    connect: (url, options) => {
      const pool = new pg.Pool({
        connectionString: url,
        max: 20,
        // A server that accepts TCP but never answers must not hang a call.
        connectionTimeoutMillis: options?.connectTimeoutMs ?? 5000,
      });
      // Idle clients emit 'error' when their server stops; unhandled, that would crash the process.
      pool.on('error', () => {});
      // A checked-out client whose connection breaks emits 'error' too (the query fails either way).
      pool.on('connect', (client) => client.on('error', () => {}));
      return new Kysely({ dialect: new PostgresDialect({ pool }) });
    },
    // Ends the pool (a handle that never ran a query has no connections to close).
    disconnect: (db) => db.destroy(),
    fromSingle: fromKysely,
    fromPrimaryAndReplica: fromKyselyAndReplica,
    fromPrimaryAndReplicas: fromKyselyAndReplicas,
  }),
});
