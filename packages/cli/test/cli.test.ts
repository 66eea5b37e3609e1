import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type Cluster, startCluster } from '@es/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT_CODES, runCli } from '../src/index.js';

/**
 * `es migrate | status | doctor` against a real primary and streaming replica: what each prints (text and
 * JSON), its exit codes, swapped roles, a replica that is not there, schema drift, and that no password
 * given in a URL is ever printed.
 */
let cluster: Cluster;
const PASSWORD = 'pw-Never-Shown-7f3';
const OTHER_PASSWORD = 'pw-Neither-This-9c1';
/** A URL with a password (trust auth on loopback ignores it), which the output must never show. */
const withPassword = (url: string, password = PASSWORD) => {
  const parsed = new URL(url);
  parsed.password = password;
  return parsed.toString();
};
/** Nothing listens on port 1: a replica that is not there. */
const MISSING = `postgres://es:${OTHER_PASSWORD}@127.0.0.1:1/es`;

async function es(args: readonly string[], env: Record<string, string | undefined> = {}) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, {
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
    env,
  });
  for (const secret of [PASSWORD, OTHER_PASSWORD]) expect(stdout + stderr).not.toContain(secret);
  return { code, stdout, stderr, json: () => JSON.parse(stdout) };
}

const deployment = (table: string) => [
  '--primary',
  withPassword(cluster.primaryUrl),
  '--replica',
  withPassword(cluster.replicaUrl),
  '--table',
  table,
];

beforeAll(async () => {
  cluster = await startCluster();
});
afterAll(async () => {
  await cluster?.stop();
});

describe('es status', () => {
  it("reports each server's own view: roles, positions, lag, streaming, standbys (text and JSON)", async () => {
    await cluster.waitForReplay();
    const { code, json } = await es([...deployment('events'), '--json', 'status']);
    expect(code).toBe(EXIT_CODES.ok);
    const [primary, replica] = json().servers;
    expect(primary).toMatchObject({ name: 'primary', role: 'primary', reachable: true, inRecovery: false });
    expect(primary.lsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
    expect(primary.standbys.length).toBeGreaterThanOrEqual(1);
    expect(primary.standbys[0]).toMatchObject({ state: 'streaming' });
    expect(replica).toMatchObject({ name: 'replica-1', role: 'replica', reachable: true, inRecovery: true });
    expect(replica.walReceiver).toMatchObject({ status: 'streaming' });
    expect(replica.lsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
    expect(Number(replica.lagBytes)).toBeGreaterThanOrEqual(0);
    expect(primary.url).toMatch(/^postgres(ql)?:\/\/[^:@]+@127\.0\.0\.1:\d+\//);

    const text = await es([...deployment('events'), 'status']);
    expect(text.stdout).toMatch(/^primary \(.*\)\n {2}role +primary \(not in recovery\), PostgreSQL \d+/);
    expect(text.stdout).toMatch(/^replica-1 \(.*\)\n {2}role +standby \(in recovery\)/m);
    expect(text.stdout).toMatch(/streaming +WAL receiver streaming/);
  });

  it('takes the URLs from ES_PRIMARY_URL and ES_REPLICA_URLS', async () => {
    const env = {
      ES_PRIMARY_URL: withPassword(cluster.primaryUrl),
      ES_REPLICA_URLS: `${withPassword(cluster.replicaUrl)},${MISSING}`,
    };
    const { code, json } = await es(['status', '--json'], env);
    expect(json().servers.map((server: { name: string }) => server.name)).toEqual([
      'primary',
      'replica-1',
      'replica-2',
    ]);
    expect(code).toBe(EXIT_CODES.unreachable);
  });

  it('exits 3 and says why when a replica is not there, and still reports the others', async () => {
    const { code, stdout } = await es(['--primary', cluster.primaryUrl, '--replica', MISSING, 'status']);
    expect(code).toBe(EXIT_CODES.unreachable);
    expect(stdout).toMatch(
      /^replica-1 \(postgres:\/\/es@127\.0\.0\.1:1\/es\)\n {2}reachable +no: ECONNREFUSED/m,
    );
    expect(stdout).toMatch(/role +primary \(not in recovery\)/);
  });
});

describe('es migrate and es doctor', () => {
  it('doctor wants a migration first; after es migrate it finds no error', async () => {
    const before = await es([...deployment('cli_fresh'), 'doctor', '--json']);
    expect(before.code).toBe(EXIT_CODES.problem);
    expect(before.json().checks).toContainEqual(
      expect.objectContaining({
        server: 'primary',
        check: 'schema',
        level: 'error',
        message: expect.stringMatching(/run es migrate/),
      }),
    );

    const migrated = await es([...deployment('cli_fresh'), 'migrate']);
    expect(migrated).toMatchObject({ code: EXIT_CODES.ok });
    expect(migrated.stdout).toContain('cli_fresh is at the latest migration step');

    const after = await es([...deployment('cli_fresh'), 'doctor', '--json']);
    const checks = after.json().checks as { server: string; check: string; level: string }[];
    expect(checks.filter((check) => check.level === 'error')).toEqual([]);
    expect(after.code).toBe(EXIT_CODES.ok);
    for (const server of ['primary', 'replica-1']) {
      const on = checks.filter((check) => check.server === server).map((check) => check.check);
      expect(on).toEqual(
        expect.arrayContaining(['reachable', 'role', 'isolation', 'schema', 'gin_fastupdate']),
      );
    }
    expect(checks.map((check) => check.check)).toEqual(
      expect.arrayContaining(['wal_level', 'streaming', 'max_standby_streaming_delay']),
    );
    const text = await es([...deployment('cli_fresh'), 'doctor']);
    expect(text.stdout).toMatch(/^ok +primary +role +a primary \(not in recovery\)$/m);
    expect(text.stdout).toMatch(/^es doctor: 0 errors, \d+ warnings, \d+ ok$/m);
  });

  it('doctor finds a GIN index with fastupdate on and a function edited by hand', async () => {
    await es([...deployment('cli_drift'), 'migrate']);
    const client = new pg.Client({ connectionString: cluster.primaryUrl });
    await client.connect();
    try {
      await client.query('ALTER INDEX cli_drift_payload_idx SET (fastupdate = on)');
      const { rows } = await client.query(
        "SELECT oid::regprocedure::text AS fn FROM pg_proc WHERE proname = 'cli_drift_read'",
      );
      await client.query(`ALTER FUNCTION ${rows[0].fn} SET work_mem = '1MB'`);
    } finally {
      await client.end();
    }
    const { code, json } = await es([
      '--primary',
      cluster.primaryUrl,
      '--table',
      'cli_drift',
      'doctor',
      '--json',
    ]);
    expect(code).toBe(EXIT_CODES.problem);
    expect(json().checks).toContainEqual(
      expect.objectContaining({
        check: 'gin_fastupdate',
        level: 'error',
        message: expect.stringContaining('fastupdate=off'),
      }),
    );
    expect(json().checks).toContainEqual(
      expect.objectContaining({
        check: 'schema',
        level: 'error',
        message: 'function cli_drift_read differs from the one the migration steps install',
      }),
    );
  });

  it('catches swapped roles: doctor reports both servers, migrate is refused on the standby', async () => {
    const swapped = [
      '--primary',
      cluster.replicaUrl,
      '--replica',
      cluster.primaryUrl,
      '--table',
      'cli_fresh',
    ];
    const { code, json } = await es([...swapped, 'doctor', '--json']);
    expect(code).toBe(EXIT_CODES.problem);
    const roles = json().checks.filter((check: { check: string }) => check.check === 'role');
    expect(roles).toEqual([
      expect.objectContaining({
        server: 'primary',
        level: 'error',
        message: expect.stringMatching(/swapped/),
      }),
      expect.objectContaining({
        server: 'replica-1',
        level: 'error',
        message: expect.stringMatching(/swapped/),
      }),
    ]);
    const migrate = await es([...swapped, 'migrate']);
    expect(migrate.code).toBe(EXIT_CODES.problem);
    expect(migrate.stderr).toMatch(/^es migrate: READ_ONLY_PRIMARY: /);
  });

  it('doctor reports a missing replica as an error; migrate on a missing primary exits 3', async () => {
    const doctor = await es([
      '--primary',
      cluster.primaryUrl,
      '--replica',
      MISSING,
      '--table',
      'cli_fresh',
      'doctor',
    ]);
    expect(doctor.code).toBe(EXIT_CODES.problem);
    expect(doctor.stdout).toMatch(/^error +replica-1 +reachable +did not answer \(ECONNREFUSED/m);
    const migrate = await es(['--primary', MISSING, '--timeout', '2000', 'migrate']);
    expect(migrate.code).toBe(EXIT_CODES.unreachable);
    expect(migrate.stderr).toMatch(/CONNECTION_FAILED/);
  });
});

describe('es usage', () => {
  it('exits 2 on bad usage, 0 on --help', async () => {
    expect((await es(['status'])).code).toBe(EXIT_CODES.usage);
    expect((await es(['status'])).stderr).toContain('no primary');
    expect((await es(['--bogus', 'status'])).code).toBe(EXIT_CODES.usage);
    expect((await es(['--primary', cluster.primaryUrl, '--table', 'bad-name;', 'status'])).code).toBe(
      EXIT_CODES.usage,
    );
    expect((await es(['--primary', cluster.primaryUrl, '--timeout', '-1', 'status'])).code).toBe(
      EXIT_CODES.usage,
    );
    expect((await es([])).code).toBe(EXIT_CODES.usage);
    const help = await es(['--help']);
    expect(help.code).toBe(EXIT_CODES.ok);
    expect(help.stdout).toMatch(/migrate[\s\S]*status[\s\S]*doctor/);
  });

  it('the built bin runs and exits with the code', async () => {
    const bin = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
    const { stdout } = await promisify(execFile)(process.execPath, [
      bin,
      '--primary',
      cluster.primaryUrl,
      'status',
    ]);
    expect(stdout).toMatch(/^primary \(/);
    const missing = await promisify(execFile)(process.execPath, [bin, '--primary', MISSING, 'status']).catch(
      (error: { code: number; stdout: string; stderr: string }) => error,
    );
    expect(missing).toMatchObject({ code: EXIT_CODES.unreachable });
    expect(
      `${(missing as { stdout: string }).stdout}${(missing as { stderr: string }).stderr}`,
    ).not.toContain(OTHER_PASSWORD);
  });
});
