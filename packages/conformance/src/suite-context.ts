import { randomBytes } from 'node:crypto';
import type { EventStore, Logger, OperationReport, StoreOptions } from '@es/core';
import { type Cluster, startCluster } from '@es/testing';
import { it, type TestContext } from 'vitest';
import type { ConformanceAdapter, ConformanceOptions } from './options.js';
import { RawDatabase } from './raw-database.js';

/**
 * Which factory builds the store under test:
 * - `single`: `fromSingle(primary)`;
 * - `replicated`: `fromPrimaryAndReplica(primary, replica)`;
 * - `primary-only`: `fromPrimaryAndReplica(primary, undefined)`.
 */
export type StoreKind = 'single' | 'replicated' | 'primary-only' | 'replicas';

/** Options of `ConformanceSuite.newStore`. */
export interface NewStoreOptions<H> {
  /** Default: a fresh `es_c_<random>` name. */
  tableName?: string;
  replicaFallback?: 'none' | 'primary' | 'next-replica';
  /** `StoreOptions.replicaNames`. */
  replicaNames?: readonly string[];
  /** `StoreOptions.onStaleRead`. */
  onStaleRead?: 'primary' | 'error';
  /** `StoreOptions.tokenWaitMs`. */
  tokenWaitMs?: number;
  /** `StoreOptions.replicaTimeoutMs`. */
  replicaTimeoutMs?: number;
  /** `StoreOptions.logger`. */
  logger?: Logger;
  /** Default true: `migrate()` before returning. */
  migrate?: boolean;
  /** Replaces the suite's primary handle (e.g. to build a store whose "primary" is the replica). */
  primary?: H;
  /** Replaces the suite's replica handle (`replicated` stores only). */
  replica?: H;
}

/** A store built for one test, with what the test needs around it. */
export interface StoreUnderTest {
  readonly store: EventStore;
  /** The configured (unquoted) table name. */
  readonly tableName: string;
  /** The quoted, qualified name the store reports, for raw SQL. */
  readonly table: string;
  /** Every `onOperation` report of this store, in order. */
  readonly reports: OperationReport[];
  /** Every call `hooks.traceOperation` wrapped, once it settled, with the reports of the servers it used. */
  readonly traces: { readonly operation: string; readonly reports: readonly OperationReport[] }[];
}

/** Registers one test of a group: skipped (with the reason in its title) when the group is skipped. */
export type RegisterTest = (title: string, fn: (t: TestContext) => Promise<void>, timeoutMs?: number) => void;

/** Timeout of a test that talks to the cluster. */
export const DB_TEST_TIMEOUT_MS = 60_000;

function required<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`conformance suite: ${what} is not ready (did beforeAll fail?)`);
  return value;
}

/** `startCluster` with two replicas, or the one that external servers and testcontainers have. */
function defaultCluster(): Promise<Cluster> {
  const { ES_PRIMARY_URL, ES_REPLICA_URL, ES_TESTCONTAINERS } = process.env;
  const oneReplica = Boolean(ES_PRIMARY_URL || ES_REPLICA_URL) || ES_TESTCONTAINERS === '1';
  return startCluster({ replicas: oneReplica ? 1 : 2 });
}

/** A table name no other test uses. */
export function freshTableName(prefix = 'es_c'): string {
  return `${prefix}_${randomBytes(6).toString('hex')}`;
}

/**
 * The state one `runConformance` call shares between its groups: the cluster, the adapter, a handle on
 * each server and raw SQL pools. Its getters throw until `start()` has run (in `beforeAll`).
 */
export class ConformanceSuite<H> {
  readonly options: ConformanceOptions<H>;
  #cluster: Cluster | undefined;
  #adapter: ConformanceAdapter<H> | undefined;
  #primary: H | undefined;
  #replica: H | undefined;
  #replicas: H[] = [];
  #raw: RawDatabase | undefined;
  #rawReplica: RawDatabase | undefined;

  constructor(options: ConformanceOptions<H>) {
    this.options = options;
  }

  get cluster(): Cluster {
    return required(this.#cluster, 'the cluster');
  }
  get adapter(): ConformanceAdapter<H> {
    return required(this.#adapter, 'the adapter');
  }
  /** The adapter's handle on the primary, shared by the tests. */
  get primary(): H {
    return required(this.#primary, 'the primary handle');
  }
  /** The adapter's handle on the replica, shared by the tests. */
  get replica(): H {
    return required(this.#replica, 'the replica handle');
  }
  /** The adapter's handles on every replica of the cluster (the first is `replica`). */
  get replicas(): readonly H[] {
    return this.#replicas;
  }
  /** Raw SQL on the primary. */
  get raw(): RawDatabase {
    return required(this.#raw, 'raw SQL on the primary');
  }
  /** Raw SQL on the replica. */
  get rawReplica(): RawDatabase {
    return required(this.#rawReplica, 'raw SQL on the replica');
  }

  async start(): Promise<void> {
    const cluster = await (this.options.cluster ?? defaultCluster)();
    this.#cluster = cluster;
    try {
      this.#raw = new RawDatabase(cluster.primaryUrl);
      this.#rawReplica = new RawDatabase(cluster.replicaUrl);
      const adapter = await this.options.setup();
      this.#adapter = adapter;
      this.#primary = await adapter.connect(cluster.primaryUrl, { connectTimeoutMs: 10_000 });
      this.#replica = await adapter.connect(cluster.replicaUrl, { connectTimeoutMs: 10_000 });
      this.#replicas = [this.#replica];
      for (const url of cluster.replicaUrls.slice(1)) {
        this.#replicas.push(await adapter.connect(url, { connectTimeoutMs: 10_000 }));
      }
    } catch (error) {
      // Leave nothing running; afterAll's stop() is then a no-op.
      await this.stop().catch(() => {});
      throw error;
    }
  }

  /** Closes everything `start()` opened; the cluster is stopped whatever else fails. */
  async stop(): Promise<void> {
    const errors: unknown[] = [];
    const attempt = async (work: () => Promise<void>) => {
      try {
        await work();
      } catch (error) {
        errors.push(error);
      }
    };
    try {
      const adapter = this.#adapter;
      for (const handle of [this.#primary, ...this.#replicas]) {
        if (adapter && handle !== undefined) await attempt(() => adapter.disconnect(handle));
      }
      for (const raw of [this.#raw, this.#rawReplica]) if (raw) await attempt(() => raw.end());
    } finally {
      this.#primary = undefined;
      this.#replica = undefined;
      this.#replicas = [];
      this.#raw = undefined;
      this.#rawReplica = undefined;
      const cluster = this.#cluster;
      this.#cluster = undefined;
      if (cluster) await cluster.stop();
    }
    if (errors.length > 0) throw new AggregateError(errors, 'conformance suite: cleanup failed');
  }

  /** Builds a store on a fresh table and (by default) migrates it. */
  async newStore(kind: StoreKind, setup: NewStoreOptions<H> = {}): Promise<StoreUnderTest> {
    const tableName = setup.tableName ?? freshTableName();
    const reports: OperationReport[] = [];
    const traces: StoreUnderTest['traces'] = [];
    const options: StoreOptions = {
      tableName,
      hooks: {
        onOperation: (report) => reports.push(report),
        traceOperation: (call) =>
          call
            .run()
            .catch(() => {})
            .then(() => traces.push({ operation: call.operation, reports: [...call.reports] })),
      },
      ...(setup.replicaFallback !== undefined && { replicaFallback: setup.replicaFallback }),
      ...(setup.replicaNames !== undefined && { replicaNames: setup.replicaNames }),
      ...(setup.onStaleRead !== undefined && { onStaleRead: setup.onStaleRead }),
      ...(setup.tokenWaitMs !== undefined && { tokenWaitMs: setup.tokenWaitMs }),
      ...(setup.replicaTimeoutMs !== undefined && { replicaTimeoutMs: setup.replicaTimeoutMs }),
      ...(setup.logger !== undefined && { logger: setup.logger }),
    };
    const primary = setup.primary ?? this.primary;
    const several = this.adapter.fromPrimaryAndReplicas;
    if (kind === 'replicas' && !several)
      throw new Error('conformance suite: the adapter has no fromPrimaryAndReplicas');
    const store =
      kind === 'single'
        ? this.adapter.fromSingle(primary, options)
        : kind === 'replicas'
          ? (several as NonNullable<typeof several>)(primary, this.replicas, options)
          : this.adapter.fromPrimaryAndReplica(
              primary,
              kind === 'replicated' ? (setup.replica ?? this.replica) : undefined,
              options,
            );
    if (setup.migrate !== false) await store.migrate();
    return { store, tableName, table: store.tableName, reports, traces };
  }

  /** Opens an extra handle for one test and closes it afterwards, whatever happens. */
  async withHandle<T>(
    url: string,
    options: { connectTimeoutMs?: number },
    work: (handle: H) => Promise<T>,
  ): Promise<T> {
    const handle = await this.adapter.connect(url, options);
    try {
      return await work(handle);
    } finally {
      await this.adapter.disconnect(handle);
    }
  }
}

/** Builds the `RegisterTest` of a group: `skipReason` set means every test is registered as skipped. */
export function testRegistrar(skipReason: string | undefined): RegisterTest {
  return (title, fn, timeoutMs = DB_TEST_TIMEOUT_MS) => {
    if (skipReason === undefined) it(title, fn, timeoutMs);
    else it.skip(`${title} [skipped: ${skipReason}]`, fn, timeoutMs);
  };
}
