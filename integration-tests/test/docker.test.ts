import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { runConformance } from '@es/conformance';
import { startCluster, whyNoContainerRuntime } from '@es/testing';
import type pg from 'pg';
import { afterAll } from 'vitest';
import { pgAdapter, skipEveryGroup } from './pg-conformance.js';

/**
 * The two ways users with Docker get a primary + replica, each checked by the `@es/pg` conformance suite:
 * testcontainers (`startCluster({ mode: 'testcontainers' })`) and docker/compose.yaml. Where no Docker
 * engine answers (this repository's CI), both are skipped with the reason testcontainers gives.
 */
const run = promisify(execFile);
const noDocker = await whyNoContainerRuntime();
const COMPOSE_FILE = fileURLToPath(new URL('../../docker/compose.yaml', import.meta.url));
const noCompose =
  noDocker ??
  (await run('docker', ['compose', 'version']).then(
    () => undefined,
    () => 'the docker compose plugin is not installed',
  ));

const skipAll = (reason: string) => skipEveryGroup(`no Docker: ${reason}`);

runConformance<pg.Pool>({
  name: 'pg on testcontainers',
  setup: pgAdapter,
  ...(noDocker === undefined
    ? { cluster: () => startCluster({ mode: 'testcontainers' }) }
    : skipAll(noDocker)),
});

/** docker/compose.yaml as a user runs it, on free ports, under a project name and password of its own. */
const project = `es-compose-test-${process.pid}`;
const password = randomBytes(12).toString('hex');
async function composeCluster() {
  const ports = { ES_PRIMARY_PORT: '25432', ES_REPLICA_PORT: '25433' };
  const env = { ...process.env, ...ports, ES_PG_PASSWORD: password };
  await run('docker', ['compose', '-p', project, '-f', COMPOSE_FILE, 'up', '-d', '--wait'], { env });
  process.env.ES_PRIMARY_URL = `postgres://es:${password}@127.0.0.1:${ports.ES_PRIMARY_PORT}/eventstore`;
  process.env.ES_REPLICA_URL = `postgres://es:${password}@127.0.0.1:${ports.ES_REPLICA_PORT}/eventstore`;
  return startCluster({ mode: 'external' });
}
if (noCompose === undefined) {
  afterAll(() => run('docker', ['compose', '-p', project, '-f', COMPOSE_FILE, 'down', '-v']), 120_000);
}
runConformance<pg.Pool>({
  name: 'pg on docker/compose.yaml',
  setup: pgAdapter,
  ...(noCompose === undefined ? { cluster: composeCluster } : skipAll(noCompose)),
});
