import type { EventStore } from '@es/core';
import { fromDrizzleAndReplica, fromDrizzleAndReplicas } from '@es/drizzle';
import { fromKyselyAndReplica, fromKyselyAndReplicas } from '@es/kysely';
import { fromNeonPoolAndReplica, fromNeonPoolAndReplicas } from '@es/neon';
import { fromPgPoolAndReplica, fromPgPoolAndReplicas } from '@es/pg';
import { fromPostgresJsAndReplica, fromPostgresJsAndReplicas } from '@es/postgresjs';
import { Pool as NeonPool } from '@neondatabase/serverless';
import { drizzle } from 'drizzle-orm/node-postgres';
import { Kysely, PostgresDialect } from 'kysely';
import postgres from 'postgres';
import { pool } from './helpers.js';

type Options = Parameters<typeof fromPgPoolAndReplica>[2];

/**
 * Opens one adapter's store on a primary and a replica URL (its `fromXAndReplica`), or on several replica
 * URLs (its `fromXAndReplicas`). Neon's Pool needs `neonConfig` set to a relay.
 */
export type Open = (
  primaryUrl: string,
  replicaUrl: string | readonly string[],
  options: Options,
) => {
  store: EventStore;
  close(): Promise<unknown>;
};

/**
 * An `Open` from how an adapter connects to one URL, its two factories, and how a handle is closed: one
 * replica URL goes to `one`, a list to `several`.
 */
function opener<H>(
  connect: (url: string) => H,
  one: (primary: H, replica: H, options: Options) => EventStore,
  several: (primary: H, replicas: readonly H[], options: Options) => EventStore,
  end: (handle: H) => Promise<unknown>,
): Open {
  return (primaryUrl, replicaUrl, options) => {
    const primary = connect(primaryUrl);
    const replicas = (typeof replicaUrl === 'string' ? [replicaUrl] : replicaUrl).map(connect);
    return {
      store:
        typeof replicaUrl === 'string'
          ? one(primary, replicas[0] as H, options)
          : several(primary, replicas, options),
      close: () => Promise.all([primary, ...replicas].map(end)),
    };
  };
}

export const ADAPTERS: Record<string, Open> = {
  pg: opener(
    (url) => pool(url),
    fromPgPoolAndReplica,
    fromPgPoolAndReplicas,
    (handle) => handle.end(),
  ),
  'postgres.js': opener(
    (url) => postgres(url, { max: 5, connect_timeout: 5, onnotice: () => {} }),
    fromPostgresJsAndReplica,
    fromPostgresJsAndReplicas,
    (handle) => handle.end({ timeout: 5 }),
  ),
  neon: opener(
    (url) => {
      const created = new NeonPool({ connectionString: url, max: 5, connectionTimeoutMillis: 5_000 });
      created.on('error', () => {});
      return created;
    },
    fromNeonPoolAndReplica,
    fromNeonPoolAndReplicas,
    (handle) => handle.end(),
  ),
  kysely: opener(
    (url) => {
      const created = pool(url);
      // Kysely checks clients out: one whose connection breaks mid-query emits 'error' (see its README).
      created.on('connect', (client) => client.on('error', () => {}));
      return new Kysely<unknown>({ dialect: new PostgresDialect({ pool: created }) });
    },
    fromKyselyAndReplica,
    fromKyselyAndReplicas,
    (handle) => handle.destroy(),
  ),
  drizzle: opener(
    (url) => drizzle({ client: pool(url) }),
    fromDrizzleAndReplica,
    fromDrizzleAndReplicas,
    (handle) => handle.$client.end(),
  ),
};
