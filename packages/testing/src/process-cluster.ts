import { rm } from 'node:fs/promises';
import type { Cluster } from './cluster.js';
import { untrackTempDir } from './exit-cleanup.js';
import type { PostgresServer } from './postgres-server.js';
import { ReplayControls } from './replay-controls.js';
import { waitForStreaming } from './replication.js';
import { settleAll } from './settle-all.js';

/** A replica server and the physical replication slot it streams through. */
export interface ReplicaServer {
  /** The hot standby. */
  server: PostgresServer;
  /** Its slot on the primary. */
  slot: string;
}

/** A primary and its replicas run as processes of this machine (local or embedded mode). */
export class ProcessCluster extends ReplayControls implements Cluster {
  readonly canStopReplica = true;
  readonly primaryUrl: string;
  readonly replicaUrls: readonly string[];
  private stopping: Promise<void> | undefined;

  /**
   * @param mode 'local' or 'embedded'.
   * @param primary the primary server, running.
   * @param replicas the replica servers, running and streaming, each through its slot.
   * @param tempDir the directory holding every data dir and the logs, removed by stop().
   * @param database the database named in the URLs.
   */
  constructor(
    readonly mode: 'local' | 'embedded',
    private readonly primary: PostgresServer,
    private readonly replicas: readonly ReplicaServer[],
    private readonly tempDir: string,
    database: string,
  ) {
    super();
    const url = (server: PostgresServer) =>
      `postgres://postgres@127.0.0.1:${server.port}/${encodeURIComponent(database)}`;
    this.primaryUrl = url(primary);
    this.replicaUrls = replicas.map((replica) => url(replica.server));
  }

  async stopReplica(replica?: number): Promise<void> {
    await (this.replicas[this.replicaIndex(replica)] as ReplicaServer).server.stop();
  }

  async stallReplica(replica?: number): Promise<void> {
    await (this.replicas[this.replicaIndex(replica)] as ReplicaServer).server.stall();
  }

  async unstallReplica(replica?: number): Promise<void> {
    await (this.replicas[this.replicaIndex(replica)] as ReplicaServer).server.unstall();
  }

  async startReplica(replica?: number): Promise<void> {
    const index = this.replicaIndex(replica);
    const { server, slot } = this.replicas[index] as ReplicaServer;
    await server.start();
    await waitForStreaming(this.primaryUrl, this.replicaUrls[index] as string, slot);
  }

  stopPrimary(): Promise<void> {
    return this.primary.stop('immediate');
  }

  startPrimary(): Promise<void> {
    return this.primary.start();
  }

  stallPrimary(): Promise<void> {
    return this.primary.stall();
  }

  unstallPrimary(): Promise<void> {
    return this.primary.unstall();
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      try {
        await settleAll(this.replicas.map((replica) => replica.server.stop()));
      } finally {
        await this.primary.stop();
        await rm(this.tempDir, { recursive: true, force: true });
        untrackTempDir(this.tempDir);
      }
    })();
    return this.stopping;
  }
}
