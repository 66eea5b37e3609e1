import { pollRow, queryRow } from './control-sql.js';
import { settleAll } from './settle-all.js';

const POLL_MS = 3;

/** pg_current_wal_lsn() on the primary, as text. */
export async function currentLsn(primaryUrl: string): Promise<string> {
  const row = await queryRow<{ lsn: string }>(primaryUrl, 'SELECT pg_current_wal_lsn()::text AS lsn');
  if (!row) throw new Error('pg_current_wal_lsn() returned no row');
  return row.lsn;
}

/** Waits until every replica has replayed `lsn` (default: the primary's current LSN). */
export function waitForReplay(
  primaryUrl: string,
  replicaUrls: readonly string[],
  lsn?: string,
  timeoutMs?: number,
): Promise<void> {
  return waitForLsn('replay', primaryUrl, replicaUrls, lsn, timeoutMs);
}

/** Waits until every replica has received `lsn` (default: the primary's current LSN), replayed or not. */
export function waitForReceive(
  primaryUrl: string,
  replicaUrls: readonly string[],
  lsn?: string,
  timeoutMs?: number,
): Promise<void> {
  return waitForLsn('receive', primaryUrl, replicaUrls, lsn, timeoutMs);
}

async function waitForLsn(
  step: 'replay' | 'receive',
  primaryUrl: string,
  replicaUrls: readonly string[],
  lsn: string | undefined,
  timeoutMs = 10_000,
): Promise<void> {
  const target = lsn ?? (await currentLsn(primaryUrl));
  const position = step === 'replay' ? 'pg_last_wal_replay_lsn()' : 'pg_last_wal_receive_lsn()';
  const hint = step === 'replay' ? 'Is replay paused or the replica stopped?' : 'Is the replica stopped?';
  const polls = replicaUrls.map((url, index) => {
    const name = replicaUrls.length === 1 ? 'the replica' : `replica ${index}`;
    return pollRow<{ reached: string | null; done: boolean | null }>(url, {
      sql: `SELECT ${position}::text AS reached, ${position} >= $1::pg_lsn AS done`,
      params: [target],
      done: (row) => row?.done === true,
      timeoutMs,
      intervalMs: POLL_MS,
      describe: (row) =>
        `${name} did not ${step} up to LSN ${target}, last: ${row?.reached ?? 'unknown'}. ${hint}`,
    });
  });
  await settleAll(polls);
}

/**
 * Pauses WAL replay on the replica and waits until it is paused. PostgreSQL 13 has no pause state: its
 * `pg_is_wal_replay_paused()` reports the request, and replay stops before the next record it applies.
 */
export async function pauseReplay(replicaUrl: string, timeoutMs = 10_000): Promise<void> {
  const version = await queryRow<{ number: string }>(
    replicaUrl,
    "SELECT current_setting('server_version_num') AS number",
  );
  await queryRow(replicaUrl, 'SELECT pg_wal_replay_pause()');
  await pollRow<{ state: string }>(replicaUrl, {
    sql:
      Number(version?.number) >= 140_000
        ? 'SELECT pg_get_wal_replay_pause_state() AS state'
        : "SELECT CASE WHEN pg_is_wal_replay_paused() THEN 'paused' ELSE 'not paused' END AS state",
    done: (row) => row?.state === 'paused',
    timeoutMs,
    intervalMs: POLL_MS,
    describe: (row) => `replay pause requested, state is still '${row?.state ?? 'unknown'}'`,
  });
}

/**
 * Sets `recovery_min_apply_delay` on a replica (ALTER SYSTEM, then a reload): it then applies each commit
 * only `ms` after the primary made it, a steady lag. 0 removes the delay.
 */
export async function setReplayDelay(replicaUrl: string, ms: number): Promise<void> {
  if (!Number.isSafeInteger(ms) || ms < 0)
    throw new Error(`a replay delay is a whole number of ms, got ${ms}`);
  await queryRow(replicaUrl, `ALTER SYSTEM SET recovery_min_apply_delay = '${ms}ms'`);
  await queryRow(replicaUrl, 'SELECT pg_reload_conf()');
  // The reload is a signal: wait until a new session sees the value (the startup process reloads as soon).
  await pollRow<{ done: boolean }>(replicaUrl, {
    sql: "SELECT setting::bigint = $1::bigint AS done FROM pg_settings WHERE name = 'recovery_min_apply_delay'",
    params: [ms],
    done: (row) => row?.done === true,
    timeoutMs: 10_000,
    intervalMs: POLL_MS,
    describe: () => `the replica did not take recovery_min_apply_delay = ${ms}ms`,
  });
}

/** Resumes WAL replay on the replica. */
export async function resumeReplay(replicaUrl: string): Promise<void> {
  await queryRow(replicaUrl, 'SELECT pg_wal_replay_resume()');
}

/**
 * Waits until the replica answers queries in recovery and the primary shows its walsender streaming
 * (through `slot` when given, else any walsender).
 */
export async function waitForStreaming(
  primaryUrl: string,
  replicaUrl: string,
  slot: string | undefined,
  timeoutMs = 30_000,
): Promise<void> {
  const started = Date.now();
  await pollRow<{ recovery: boolean }>(replicaUrl, {
    sql: 'SELECT pg_is_in_recovery() AS recovery',
    done: (row) => row?.recovery === true,
    timeoutMs,
    intervalMs: 10,
    describe: (row) => (row ? 'the replica is not in recovery' : 'the replica does not answer'),
  });
  await pollRow<{ streaming: boolean }>(primaryUrl, {
    sql:
      slot === undefined
        ? "SELECT EXISTS (SELECT 1 FROM pg_stat_replication WHERE state = 'streaming') AS streaming"
        : 'SELECT EXISTS (SELECT 1 FROM pg_stat_replication r JOIN pg_replication_slots s ON s.active_pid = r.pid ' +
          "WHERE s.slot_name = $1 AND r.state = 'streaming') AS streaming",
    params: slot === undefined ? [] : [slot],
    done: (row) => row?.streaming === true,
    timeoutMs: Math.max(1, timeoutMs - (Date.now() - started)),
    intervalMs: 10,
    describe: () => "the primary's pg_stat_replication shows no streaming replica",
  });
}
