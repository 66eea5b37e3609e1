import { runConformance } from '@es/conformance';
import pg from 'pg';
import { fromPgPool, fromPgPoolAndReplica, fromPgPoolAndReplicas } from '../src/index.js';

runConformance<pg.Pool>({
  name: 'pg',
  setup: () => ({
    connect: (url, options) => {
      const pool = new pg.Pool({
        connectionString: url,
        max: 20,
        connectionTimeoutMillis: options?.connectTimeoutMs ?? 5000,
      });
      // Idle clients emit 'error' when their server stops; unhandled, that would crash the process.
      pool.on('error', () => {});
      return pool;
    },
    disconnect: (pool) => pool.end(),
    fromSingle: fromPgPool,
    fromPrimaryAndReplica: fromPgPoolAndReplica,
    fromPrimaryAndReplicas: fromPgPoolAndReplicas,
  }),
});
