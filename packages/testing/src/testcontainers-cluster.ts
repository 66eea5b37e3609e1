// Runs only where a Docker engine answers (integration-tests/test/docker.test.ts); the machines this was
// written on have none, so it has not run here. Kept short on purpose.
import type { Cluster } from './cluster.js';
import { waitForStreaming } from './replication.js';
import { UrlCluster } from './url-cluster.js';

/**
 * The few parts of the `testcontainers` API used here, typed loosely: the package is an optional
 * dependency, and these declarations must not need it.
 */
interface StartedContainer {
  getHost(): string;
  getMappedPort(port: number): number;
  stop(): Promise<unknown>;
}
interface ContainerBuilder {
  withNetwork(network: unknown): ContainerBuilder;
  withNetworkAliases(...aliases: string[]): ContainerBuilder;
  withEnvironment(env: Record<string, string>): ContainerBuilder;
  withCopyContentToContainer(files: { content: string; target: string }[]): ContainerBuilder;
  withCommand(command: string[]): ContainerBuilder;
  withEntrypoint(entrypoint: string[]): ContainerBuilder;
  withExposedPorts(...ports: number[]): ContainerBuilder;
  withWaitStrategy(strategy: unknown): ContainerBuilder;
  start(): Promise<StartedContainer>;
}
interface TestcontainersModule {
  GenericContainer: new (image: string) => ContainerBuilder;
  Network: new () => { start(): Promise<{ stop(): Promise<unknown> }> };
  Wait: { forLogMessage(message: RegExp, times?: number): unknown };
  getContainerRuntimeClient(): Promise<unknown>;
}

const IMAGE = 'postgres:15';
const SLOT = 'es_replica';

async function loadTestcontainers(): Promise<TestcontainersModule> {
  const name = 'testcontainers'; // a variable, so bundlers and tsc leave the optional import alone
  try {
    return (await import(name)) as TestcontainersModule;
  } catch (error) {
    throw new Error(
      `testcontainers mode needs the npm package 'testcontainers', which could not be imported`,
      {
        cause: error,
      },
    );
  }
}

/**
 * Why testcontainers cannot run here (the package is missing, or no container runtime answers), or
 * undefined when it can. Without Docker this answers in milliseconds.
 */
export async function whyNoContainerRuntime(): Promise<string | undefined> {
  try {
    await (await loadTestcontainers()).getContainerRuntimeClient();
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/** Two postgres:15 containers on a shared network: a primary and a replica made by pg_basebackup. */
export async function startTestcontainersCluster(
  database: string,
  log: (line: string) => void,
): Promise<Cluster> {
  const tc = await loadTestcontainers();
  const started: { stop(): Promise<unknown> }[] = [];
  const release = async () => {
    for (const item of started.reverse()) await item.stop().catch(() => {});
  };
  try {
    const network = await new tc.Network().start();
    started.push(network);
    const primary = await new tc.GenericContainer(IMAGE)
      .withNetwork(network)
      .withNetworkAliases('primary')
      .withEnvironment({ POSTGRES_HOST_AUTH_METHOD: 'trust', POSTGRES_DB: database })
      .withCopyContentToContainer([
        {
          content: 'echo "host replication all all trust" >> "$PGDATA/pg_hba.conf"\n',
          target: '/docker-entrypoint-initdb.d/replication.sh',
        },
      ])
      .withCommand(['postgres', '-c', 'wal_level=replica', '-c', 'max_wal_senders=5', '-c', 'fsync=off'])
      .withExposedPorts(5432)
      .withWaitStrategy(tc.Wait.forLogMessage(/database system is ready to accept connections/, 2))
      .start();
    started.push(primary);
    const replicaScript = [
      'set -e',
      'mkdir -p /tmp/replica && chown postgres /tmp/replica && chmod 700 /tmp/replica',
      `gosu postgres pg_basebackup -h primary -U postgres -D /tmp/replica -R -X stream -C -S ${SLOT} -c fast`,
      'exec gosu postgres postgres -D /tmp/replica -c hot_standby=on',
    ].join('\n');
    const replica = await new tc.GenericContainer(IMAGE)
      .withNetwork(network)
      .withEntrypoint(['bash', '-c', replicaScript])
      .withExposedPorts(5432)
      .withWaitStrategy(tc.Wait.forLogMessage(/ready to accept read-only connections/))
      .start();
    started.push(replica);
    const url = (c: StartedContainer) =>
      `postgres://postgres@${c.getHost()}:${c.getMappedPort(5432)}/${encodeURIComponent(database)}`;
    const cluster = new UrlCluster('testcontainers', url(primary), url(replica), release);
    await waitForStreaming(cluster.primaryUrl, cluster.replicaUrl, SLOT);
    log(`testcontainers mode: ${IMAGE} primary and replica streaming`);
    return cluster;
  } catch (error) {
    await release();
    const message = error instanceof Error ? error.message : String(error);
    throw new Error(`testcontainers mode failed (is a Docker engine running and reachable?): ${message}`, {
      cause: error,
    });
  }
}
