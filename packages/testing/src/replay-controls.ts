import {
  currentLsn,
  pauseReplay,
  resumeReplay,
  setReplayDelay,
  waitForReceive,
  waitForReplay,
} from './replication.js';

/** The cluster controls that work over SQL on the URLs, whoever runs the servers. */
export abstract class ReplayControls {
  abstract readonly primaryUrl: string;
  abstract readonly replicaUrls: readonly string[];

  /** The first replica's URL. */
  get replicaUrl(): string {
    return this.replicaUrls[0] as string;
  }

  /** pg_current_wal_lsn() on the primary. */
  primaryLsn(): Promise<string> {
    return currentLsn(this.primaryUrl);
  }

  /** Resolves once every replica has replayed `lsn` (default: the primary's current LSN). */
  waitForReplay(lsn?: string, timeoutMs?: number): Promise<void> {
    return waitForReplay(this.primaryUrl, this.replicaUrls, lsn, timeoutMs);
  }

  /** Resolves once every replica has received `lsn` (default: the primary's current LSN), replayed or not. */
  waitForReceive(lsn?: string, timeoutMs?: number): Promise<void> {
    return waitForReceive(this.primaryUrl, this.replicaUrls, lsn, timeoutMs);
  }

  /** Pauses WAL replay on replica `replica` (default 0). */
  async pauseReplay(replica?: number): Promise<void> {
    await pauseReplay(this.replicaUrls[this.replicaIndex(replica)] as string);
  }

  /** Resumes WAL replay on replica `replica` (default 0). */
  async resumeReplay(replica?: number): Promise<void> {
    await resumeReplay(this.replicaUrls[this.replicaIndex(replica)] as string);
  }

  /** Makes replica `replica` (default 0) apply each commit `ms` after the primary made it (0: no delay). */
  async setReplayDelay(ms: number, replica?: number): Promise<void> {
    await setReplayDelay(this.replicaUrls[this.replicaIndex(replica)] as string, ms);
  }

  /** `replica` (default 0) when it is the index of a replica of this cluster, else throws. */
  protected replicaIndex(replica = 0): number {
    const count = this.replicaUrls.length;
    if (!Number.isInteger(replica) || replica < 0 || replica >= count) {
      const plural = count === 1 ? 'replica (index 0)' : `replicas (indexes 0 to ${count - 1})`;
      throw new Error(`replica index ${replica} is out of range: this cluster has ${count} ${plural}`);
    }
    return replica;
  }
}
