import { CONFORMANCE_GROUPS, type ConformanceOptions } from '@es/conformance';
import { fromPgPool, fromPgPoolAndReplica, fromPgPoolAndReplicas } from '@es/pg';
import pg from 'pg';

/** The `@es/pg` adapter as the conformance suite takes it, for the suites run on other servers here. */
export const pgAdapter: ConformanceOptions<pg.Pool>['setup'] = () => ({
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
});

/** `runConformance`'s `skip` for every group, each with `reason`: servers this run cannot have. */
export const skipEveryGroup = (reason: string) => ({
  skip: Object.fromEntries(CONFORMANCE_GROUPS.map((group) => [group, reason])),
});
