import type { Executor } from './driver.js';
import { MIGRATIONS, migrationsTable } from './migrations/index.js';
import { schemaProblems, schemaStateStatement } from './migrations/schema-check.js';
import { lsnPosition } from './replication-status.js';
import { appliedVersionsStatement } from './statements.js';
import type { TableNames } from './table-name.js';

/**
 * What an operator asks of a deployment (the `es status` and `es doctor` commands): each server's own view
 * of its role and replication, and the checks of settings and schema the store depends on. Every statement
 * only reads; none holds a value of the caller's.
 */

/** One server to inspect: its name, the role the deployment gives it, and a way to query it. */
export interface DeploymentServer {
  readonly name: string;
  readonly role: 'primary' | 'replica';
  readonly executor: Executor;
}

/** A standby the primary streams to, from `pg_stat_replication`. */
export interface StreamingStandby {
  readonly applicationName: string;
  readonly clientAddr: string | null;
  /** `streaming`, `catchup`, `startup`, ... */
  readonly state: string | null;
  /** `async`, `sync`, `quorum`, `potential`. */
  readonly syncState: string | null;
  readonly replayLsn: string | null;
  readonly replayLagMs: number | null;
}

/** A replication slot on the server, from `pg_replication_slots`. */
export interface ReplicationSlot {
  readonly name: string;
  readonly type: string;
  readonly active: boolean;
  readonly restartLsn: string | null;
}

/** One server as `deploymentStatus` reports it; the fields after `error` are absent when it did not answer. */
export interface ServerState {
  readonly name: string;
  /** The role the deployment gives the server (`--primary` or `--replica`), not necessarily what it is. */
  readonly role: 'primary' | 'replica';
  readonly reachable: boolean;
  /** Why the server did not answer: the error's code and message (never a URL or password). */
  readonly error?: string;
  readonly serverVersion?: string;
  /** `pg_is_in_recovery()`: true for a standby. */
  readonly inRecovery?: boolean;
  /** Its WAL position: written (a primary) or replayed (a standby). */
  readonly lsn?: string;
  /** For a standby: WAL bytes the primary has written that it has not replayed (0 when caught up). */
  readonly lagBytes?: string;
  /** For a standby: the age of its state in ms (0 when caught up, else since its last replayed commit). */
  readonly lagMs?: number;
  /** For a standby: its WAL receiver's status (`streaming`, ...) or null when it has none running. */
  readonly walReceiver?: { readonly status: string; readonly slotName: string | null } | null;
  /** For a primary: the standbys it streams to. */
  readonly standbys?: readonly StreamingStandby[];
  readonly slots?: readonly ReplicationSlot[];
  /** The settings the checks read, by name. */
  readonly settings?: Readonly<Record<string, string>>;
}

/** The result of one check of `deploymentChecks`. */
export interface DeploymentCheck {
  /** The server it is about. */
  readonly server: string;
  /** A short stable name: `reachable`, `role`, `wal_level`, `schema`, ... */
  readonly check: string;
  readonly level: 'ok' | 'warning' | 'error';
  readonly message: string;
}

const SETTINGS = [
  'wal_level',
  'hot_standby',
  'hot_standby_feedback',
  'default_transaction_isolation',
  'max_standby_streaming_delay',
  'synchronous_commit',
  'synchronous_standby_names',
];

/** The server's view of itself, as one JSON text. */
const SERVER_STATE_STATEMENT = {
  name: 'es.deployment.state',
  text: `SELECT json_build_object(
  'serverVersion', current_setting('server_version'),
  'inRecovery', pg_is_in_recovery(),
  'lsn', (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END)::text,
  'replayAgeMs', floor(extract(epoch FROM now() - pg_last_xact_replay_timestamp()) * 1000),
  'walReceiver', (SELECT json_build_object('status', status, 'slotName', slot_name) FROM pg_stat_wal_receiver),
  'standbys', (SELECT coalesce(json_agg(json_build_object('applicationName', application_name,
      'clientAddr', host(client_addr), 'state', state, 'syncState', sync_state, 'replayLsn', replay_lsn::text,
      'replayLagMs', floor(extract(epoch FROM replay_lag) * 1000)) ORDER BY application_name), '[]')
    FROM pg_stat_replication),
  'slots', (SELECT coalesce(json_agg(json_build_object('name', slot_name, 'type', slot_type, 'active', active,
      'restartLsn', restart_lsn::text) ORDER BY slot_name), '[]') FROM pg_replication_slots),
  'settings', (SELECT json_object_agg(name, setting) FROM pg_settings WHERE name = ANY ($1::text::text[]))
)::text AS state`,
  values: [`{${SETTINGS.join(',')}}`],
};

type Inspected = Omit<ServerState, 'name' | 'role' | 'reachable' | 'lagBytes' | 'lagMs'> & {
  readonly replayAgeMs?: number | null;
};

/** An error as a short reason: its code and message (drivers' messages name hosts, never passwords). */
function reason(error: unknown): string {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  return [code, message].filter((part) => typeof part === 'string').join(': ') || 'failed';
}

/** Asks one server about itself; undefined state and the reason when it failed. */
async function inspect(server: DeploymentServer): Promise<{ state?: Inspected; error?: string }> {
  try {
    const { rows } = await server.executor.query(SERVER_STATE_STATEMENT);
    return { state: JSON.parse(rows[0]?.state ?? '{}') as Inspected };
  } catch (error) {
    return { error: reason(error) };
  }
}

/**
 * Each server's role, recovery state, WAL position, lag (standbys, against the first primary that
 * answered), WAL receiver, the standbys a primary streams to and the slots, asked of all servers at once.
 */
export async function deploymentStatus(servers: readonly DeploymentServer[]): Promise<ServerState[]> {
  const answers = await Promise.all(servers.map(inspect));
  const primary = answers.find(
    ({ state }, index) => servers[index]?.role === 'primary' && state && !state.inRecovery,
  )?.state;
  return servers.map(({ name, role }, index) => {
    const { state, error } = answers[index] ?? {};
    if (!state) return { name, role, reachable: false, error: error ?? 'failed' };
    const { replayAgeMs, ...seen } = state;
    if (!seen.inRecovery || !seen.lsn || !primary?.lsn) return { name, role, reachable: true, ...seen };
    const behind = lsnPosition(primary.lsn) - lsnPosition(seen.lsn);
    const lagBytes = behind > 0n ? behind : 0n;
    const lagMs = lagBytes === 0n ? 0 : Math.max(0, replayAgeMs ?? 0);
    return { name, role, reachable: true, ...seen, lagBytes: String(lagBytes), lagMs };
  });
}

/** Options of `deploymentChecks`. */
export interface DeploymentCheckOptions {
  /** The events table whose schema is checked. */
  readonly names: TableNames;
  /**
   * How long replica reads may run (ms, default 30,000): a standby that cancels reads sooner, to go on
   * replaying, is reported (its `max_standby_streaming_delay`).
   */
  readonly longestReplicaReadMs?: number;
}

/**
 * Checks a deployment: every server answers in its role (a primary not in recovery, replicas in
 * recovery, streaming), `wal_level`, `hot_standby`, the isolation default, `synchronous_commit`, the
 * replicas' `max_standby_streaming_delay` against long reads, and the events table's schema on the primary
 * (migrated to the latest step, no drift, the GIN index with `fastupdate = off`) and on each replica.
 */
export async function deploymentChecks(
  servers: readonly DeploymentServer[],
  options: DeploymentCheckOptions,
): Promise<DeploymentCheck[]> {
  const states = await deploymentStatus(servers);
  const checks = states.map((state) => serverChecks(state, options.longestReplicaReadMs ?? 30_000));
  const schema = await Promise.all(
    servers.map((server, index) =>
      states[index]?.reachable
        ? schemaChecks(server, options.names).catch((error: unknown) => [
            {
              server: server.name,
              check: 'schema',
              level: 'error' as const,
              message: `could not be read (${reason(error)})`,
            },
          ])
        : Promise.resolve([]),
    ),
  );
  return checks.flatMap((list, index) => [...list, ...(schema[index] ?? [])]);
}

function serverChecks(state: ServerState, longestReadMs: number): DeploymentCheck[] {
  const checks: DeploymentCheck[] = [];
  const add = (check: string, level: DeploymentCheck['level'], message: string) =>
    checks.push({ server: state.name, check, level, message });
  if (!state.reachable) {
    add('reachable', 'error', `did not answer (${state.error})`);
    return checks;
  }
  add('reachable', 'ok', `PostgreSQL ${state.serverVersion}`);
  const setting = (name: string) => state.settings?.[name] ?? '';
  if (state.role === 'primary') {
    if (state.inRecovery) {
      add('role', 'error', 'in recovery: this is a standby, not a primary (primary and replica swapped?)');
    } else add('role', 'ok', 'a primary (not in recovery)');
    if (setting('wal_level') === 'minimal') {
      add('wal_level', 'error', 'wal_level = minimal: no standby can stream from this server');
    } else add('wal_level', 'ok', `wal_level = ${setting('wal_level')}`);
    const remoteApply = setting('synchronous_commit') === 'remote_apply';
    if (remoteApply && !setting('synchronous_standby_names')) {
      add(
        'synchronous_commit',
        'warning',
        'synchronous_commit = remote_apply does nothing without synchronous_standby_names',
      );
    }
  } else {
    if (!state.inRecovery) {
      add(
        'role',
        'error',
        'not in recovery: this is not a replica (primary and replica swapped, or a promoted standby?)',
      );
    } else add('role', 'ok', 'a standby (in recovery)');
    if (state.inRecovery && setting('hot_standby') !== 'on') {
      add('hot_standby', 'error', 'hot_standby is off: the standby accepts no reads');
    }
    if (state.inRecovery && state.walReceiver?.status !== 'streaming') {
      add('streaming', 'warning', `its WAL receiver is ${state.walReceiver?.status ?? 'not running'}`);
    } else if (state.inRecovery) add('streaming', 'ok', `streaming, ${state.lagBytes ?? '?'} bytes behind`);
    if (state.inRecovery) checks.push(standbyDelayCheck(state, longestReadMs));
  }
  const isolation = setting('default_transaction_isolation');
  if (isolation !== 'read committed') {
    add(
      'isolation',
      'warning',
      `default_transaction_isolation = ${isolation}: each guarded call runs again in an explicit READ COMMITTED transaction (one more round trip)`,
    );
  } else add('isolation', 'ok', 'default_transaction_isolation = read committed');
  return checks;
}

/** `max_standby_streaming_delay` (ms, -1 = wait forever) against the longest replica read expected. */
function standbyDelayCheck(state: ServerState, longestReadMs: number): DeploymentCheck {
  const delay = Number(state.settings?.max_standby_streaming_delay);
  const feedback = state.settings?.hot_standby_feedback === 'on';
  const check = { server: state.name, check: 'max_standby_streaming_delay' };
  if (delay === -1) {
    return {
      ...check,
      level: 'warning',
      message: 'max_standby_streaming_delay = -1: a long read can hold replay back without bound (lag grows)',
    };
  }
  if (delay < longestReadMs && !feedback) {
    return {
      ...check,
      level: 'warning',
      message: `max_standby_streaming_delay = ${delay} ms with hot_standby_feedback off: replica reads longer than that may be cancelled (REPLICATION_CONFLICT)`,
    };
  }
  const why = feedback ? 'hot_standby_feedback on' : `reads up to ${longestReadMs} ms`;
  return { ...check, level: 'ok', message: `max_standby_streaming_delay = ${delay} ms (${why})` };
}

/** The events table: present, migrated to the latest step, no drift, the GIN index's fastupdate off. */
async function schemaChecks(server: DeploymentServer, names: TableNames): Promise<DeploymentCheck[]> {
  const check = (level: DeploymentCheck['level'], message: string): DeploymentCheck => ({
    server: server.name,
    check: 'schema',
    level,
    message,
  });
  const { rows } = await server.executor.query({
    name: 'es.deployment.tables',
    text: 'SELECT to_regclass($1::text)::text AS events, to_regclass($2::text)::text AS bookkeeping',
    values: [names.table, migrationsTable(names)],
  });
  if (!rows[0]?.events || !rows[0]?.bookkeeping) {
    const missing = `${names.configured} is not migrated`;
    return [check('error', server.role === 'primary' ? `${missing}: run es migrate` : `${missing} here`)];
  }
  const applied = await server.executor.query(appliedVersionsStatement(names));
  const versions = new Set(applied.rows.map((row) => Number(row.version)));
  const pending = MIGRATIONS.filter((step) => !versions.has(step.version)).map((step) => step.version);
  if (pending.length > 0) {
    return [
      check('error', `${names.configured} lacks migration steps ${pending.join(', ')}: run es migrate`),
    ];
  }
  const state = await server.executor.query(schemaStateStatement(names));
  const problems = schemaProblems(names, state.rows[0]?.state ?? '{}');
  const gin = problems.filter((problem) => problem.includes('_payload_idx'));
  return [
    gin.length > 0
      ? { ...check('error', gin.join('; ')), check: 'gin_fastupdate' }
      : { ...check('ok', 'the payload GIN index has fastupdate = off'), check: 'gin_fastupdate' },
    problems.length > gin.length
      ? check('error', problems.filter((problem) => !gin.includes(problem)).join('; '))
      : check('ok', `${names.configured} is at migration step ${Math.max(...versions)}, no drift`),
  ];
}
