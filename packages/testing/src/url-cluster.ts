import type { Cluster } from './cluster.js';
import { ReplayControls } from './replay-controls.js';

/**
 * A cluster known only by its URLs (external servers, containers): replay control works over SQL, the
 * replica server process cannot be stopped from here.
 */
export class UrlCluster extends ReplayControls implements Cluster {
  readonly canStopReplica = false;
  readonly replicaUrls: readonly string[];
  private stopping: Promise<void> | undefined;

  /**
   * @param mode 'external' or 'testcontainers'.
   * @param primaryUrl URL of the primary.
   * @param replicaUrl URL of the hot standby (the only one: these modes support one replica).
   * @param release called once by stop() (stops containers; nothing for external servers).
   */
  constructor(
    readonly mode: 'external' | 'testcontainers',
    readonly primaryUrl: string,
    replicaUrl: string,
    private readonly release: () => Promise<void> = async () => {},
  ) {
    super();
    this.replicaUrls = [replicaUrl];
  }

  stopReplica(): Promise<void> {
    return Promise.reject(this.notPossible('stopReplica'));
  }

  startReplica(): Promise<void> {
    return Promise.reject(this.notPossible('startReplica'));
  }

  stallReplica(): Promise<void> {
    return Promise.reject(this.notPossible('stallReplica'));
  }

  unstallReplica(): Promise<void> {
    return Promise.reject(this.notPossible('unstallReplica'));
  }

  stopPrimary(): Promise<void> {
    return Promise.reject(this.notPossible('stopPrimary'));
  }

  startPrimary(): Promise<void> {
    return Promise.reject(this.notPossible('startPrimary'));
  }

  stallPrimary(): Promise<void> {
    return Promise.reject(this.notPossible('stallPrimary'));
  }

  unstallPrimary(): Promise<void> {
    return Promise.reject(this.notPossible('unstallPrimary'));
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
