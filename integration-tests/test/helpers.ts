import { fromPgPoolAndReplica } from '@es/pg';
import { type Cluster, type StartClusterOptions, startCluster } from '@es/testing';
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';

/** A pool with an explicit connect timeout and an 'error' listener (idle clients outlive server restarts). */
export function pool(url: string, max = 10): pg.Pool {
  const created = new pg.Pool({ connectionString: url, max, connectionTimeoutMillis: 5_000 });
  created.on('error', () => {});
  return created;
}

/** One application instance: its own pools and store on the shared cluster. */
export function instance(cluster: Cluster, tableName: string) {
  const primary = pool(cluster.primaryUrl);
  const replica = pool(cluster.replicaUrl);
  return {
    primary,
    store: fromPgPoolAndReplica(primary, replica, { tableName }),
    close: () => Promise.all([primary.end(), replica.end()]),
  };
}

/** A table name no other test uses. */
export function freshTable(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}_${Math.floor(Math.random() * 1e6)}`;
}

/**
 * Starts a primary + replica (or as many replicas as `options` asks for) before the tests of the enclosing
 * `describe` and always stops it after.
 */
export function useCluster(options?: StartClusterOptions): () => Cluster {
  let cluster: Cluster | undefined;
  beforeAll(async () => {
    cluster = await startCluster(options);
  });
  afterAll(async () => {
    await cluster?.stop();
  });
  return () => {
    if (!cluster) throw new Error('the cluster did not start');
    return cluster;
  };
}
