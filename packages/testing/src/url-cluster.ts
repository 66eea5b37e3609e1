import type { Cluster } from './cluster.js';
import { currentLsn, pauseReplay, resumeReplay, waitForReplay } from './replication.js';

/**
 * A cluster known only by its URLs (external servers, containers): replay control works over SQL, the
 * replica server process cannot be stopped from here.
 */
export class UrlCluster implements Cluster {
  readonly canStopReplica = false;
  private stopping: Promise<void> | undefined;

  /**
   * @param mode 'external' or 'testcontainers'.
   * @param primaryUrl URL of the primary.
   * @param replicaUrl URL of the hot standby.
   * @param release called once by stop() (stops containers; nothing for external servers).
   */
  constructor(
    readonly mode: 'external' | 'testcontainers',
    readonly primaryUrl: string,
    readonly replicaUrl: string,
    private readonly release: () => Promise<void> = async () => {},
  ) {}

  primaryLsn(): Promise<string> {
    return currentLsn(this.primaryUrl);
  }

  waitForReplay(lsn?: string, timeoutMs?: number): Promise<void> {
    return waitForReplay(this.primaryUrl, this.replicaUrl, lsn, timeoutMs);
  }

  pauseReplay(): Promise<void> {
    return pauseReplay(this.replicaUrl);
  }

  resumeReplay(): Promise<void> {
    return resumeReplay(this.replicaUrl);
  }

  stopReplica(): Promise<void> {
    return Promise.reject(this.notPossible('stopReplica'));
  }

  startReplica(): Promise<void> {
    return Promise.reject(this.notPossible('startReplica'));
  }

  /** Control connections are opened per call, so only `release` is left to do. */
  stop(): Promise<void> {
    this.stopping ??= this.release();
    return this.stopping;
  }

  private notPossible(operation: string): Error {
    const servers = this.mode === 'external' ? 'external servers' : 'testcontainers';
    return new Error(`${operation}() is not possible with ${servers} (canStopReplica is false)`);
  }
}
