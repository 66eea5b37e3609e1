import type { Statement } from './driver.js';
import type { CircuitState } from './replica-set.js';

/** One replica as `store.replicationStatus()` reports it. Lag is measured on the servers, never guessed. */
export interface ReplicaStatus {
  /** The replica's name (`replica-1` for the one replica of a `fromXAndReplica` store). */
  readonly name: string;
  /** Whether the replica answered the status query within the store's bound. */
  readonly reachable: boolean;
  /** Whether it is a standby (`pg_is_in_recovery()`); `false` means it is not a replica at all. */
  readonly inRecovery: boolean | undefined;
  /** The last WAL position it replayed (`pg_last_wal_replay_lsn()`), e.g. `0/3000148`. */
  readonly replayLsn: string | undefined;
  /** WAL bytes the primary has written that the replica has not replayed yet (0 when caught up). */
  readonly lagBytes: bigint | undefined;
  /**
   * How old the replica's state is, in ms: 0 when it has replayed everything the primary wrote, else the
   * age of the last transaction it replayed (its commit time on the primary).
   */
  readonly lagMs: number | undefined;
  /**
   * The replica's circuit breaker: `open` after it failed as a server (eventual reads skip it), `half-open`
   * while a probe asks it whether it answers again, `closed` when reads may use it.
   */
  readonly circuit: CircuitState;
}

/** The primary's current WAL position. */
export const PRIMARY_LSN_STATEMENT: Statement = Object.freeze({
  name: 'es.status.primary',
  text: 'SELECT pg_current_wal_lsn()::text AS lsn',
  values: [],
});

/** What a replica reports about itself: recovery, replayed position, age of the last replayed commit. */
export const REPLICA_STATE_STATEMENT: Statement = Object.freeze({
  name: 'es.status.replica',
  text: `SELECT pg_is_in_recovery()::text AS in_recovery, pg_last_wal_replay_lsn()::text AS replay_lsn,
  floor(extract(epoch FROM now() - pg_last_xact_replay_timestamp()) * 1000)::bigint::text AS replay_age_ms`,
  values: [],
});

/** A PostgreSQL LSN (`X/Y`, two hex numbers) as a byte position. */
export function lsnPosition(lsn: string): bigint {
  const [high, low] = lsn.split('/');
  return (BigInt(`0x${high}`) << 32n) + BigInt(`0x${low}`);
}

/**
 * The status of one replica from the rows of the two statements above (either missing when its server did
 * not answer) and its circuit.
 */
export function replicaStatus(
  name: string,
  primaryLsn: string | undefined,
  replica:
    | { in_recovery?: string | null; replay_lsn?: string | null; replay_age_ms?: string | null }
    | undefined,
  circuit: CircuitState = 'closed',
): ReplicaStatus {
  if (!replica) {
    return {
      name,
      reachable: false,
      inRecovery: undefined,
      replayLsn: undefined,
      lagBytes: undefined,
      lagMs: undefined,
      circuit,
    };
  }
  const replayLsn = replica.replay_lsn ?? undefined;
  const behind = primaryLsn && replayLsn ? lsnPosition(primaryLsn) - lsnPosition(replayLsn) : undefined;
  const lagBytes = behind === undefined ? undefined : behind > 0n ? behind : 0n;
  const age = replica.replay_age_ms == null ? undefined : Math.max(0, Number(replica.replay_age_ms));
  return {
    name,
    reachable: true,
    inRecovery: replica.in_recovery === 'true',
    replayLsn,
    lagBytes,
    lagMs: lagBytes === 0n ? 0 : age,
    circuit,
  };
}
