import { rm } from 'node:fs/promises';
import type { Cluster } from './cluster.js';
import { untrackTempDir } from './exit-cleanup.js';
import type { PostgresServer } from './postgres-server.js';
import { ReplayControls } from './replay-controls.js';
import { waitForStreaming } from './replication.js';

/** A primary and a replica run as processes of this machine (local or embedded mode). */
export class ProcessCluster extends ReplayControls implements Cluster {
  readonly canStopReplica = true;
  readonly primaryUrl: string;
  readonly replicaUrl: string;
  private stopping: Promise<void> | undefined;

  /**
   * @param mode 'local' or 'embedded'.
   * @param primary the primary server, running.
   * @param replica the replica server, running and streaming through `slot`.
   * @param slot the physical replication slot of the replica.
   * @param tempDir the directory holding both data dirs and the logs, removed by stop().
   * @param database the database named in the URLs.
   */
  constructor(
    readonly mode: 'local' | 'embedded',
    private readonly primary: PostgresServer,
    private readonly replica: PostgresServer,
    private readonly slot: string,
    private readonly tempDir: string,
    database: string,
  ) {
    super();
    const path = encodeURIComponent(database);
    this.primaryUrl = `postgres://postgres@127.0.0.1:${primary.port}/${path}`;
    this.replicaUrl = `postgres://postgres@127.0.0.1:${replica.port}/${path}`;
  }

  stopReplica(): Promise<void> {
    return this.replica.stop();
  }

  async startReplica(): Promise<void> {
    await this.replica.start();
    await waitForStreaming(this.primaryUrl, this.replicaUrl, this.slot);
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      try {
        await this.replica.stop();
      } finally {
        await this.primary.stop();
        await rm(this.tempDir, { recursive: true, force: true });
        untrackTempDir(this.tempDir);
      }
    })();
    return this.stopping;
  }
}
