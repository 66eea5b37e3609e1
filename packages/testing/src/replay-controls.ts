import { currentLsn, pauseReplay, resumeReplay, waitForReceive, waitForReplay } from './replication.js';

/** The cluster controls that work over SQL on the two URLs, whoever runs the servers. */
export abstract class ReplayControls {
  abstract readonly primaryUrl: string;
  abstract readonly replicaUrl: string;

  /** pg_current_wal_lsn() on the primary. */
  primaryLsn(): Promise<string> {
    return currentLsn(this.primaryUrl);
  }

  /** Resolves once the replica has replayed `lsn` (default: the primary's current LSN). */
  waitForReplay(lsn?: string, timeoutMs?: number): Promise<void> {
    return waitForReplay(this.primaryUrl, this.replicaUrl, lsn, timeoutMs);
  }

  /** Resolves once the replica has received `lsn` (default: the primary's current LSN), replayed or not. */
  waitForReceive(lsn?: string, timeoutMs?: number): Promise<void> {
    return waitForReceive(this.primaryUrl, this.replicaUrl, lsn, timeoutMs);
  }

  /** Pauses WAL replay on the replica. */
  pauseReplay(): Promise<void> {
    return pauseReplay(this.replicaUrl);
  }

  /** Resumes WAL replay on the replica. */
  resumeReplay(): Promise<void> {
    return resumeReplay(this.replicaUrl);
  }
}
