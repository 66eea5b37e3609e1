import type { EventStore, StoreOptions } from '@es/core';
import type { Cluster } from '@es/testing';

/**
 * What an adapter package gives the conformance suite: how to open and close a handle of its driver
 * (a pool, a client, an ORM instance) and its two store factories.
 *
 * @typeParam H - the driver handle the adapter's factories take (e.g. `pg.Pool`).
 */
export interface ConformanceAdapter<H> {
  /**
   * Opens a driver handle (pool/client/db) connected to `url`. Set the connect timeout explicitly from
   * `connectTimeoutMs`: some tests point a handle at a server that accepts TCP and never answers. The
   * handle should allow at least 20 concurrent connections (the concurrency tests run 16 writers), and
   * must survive its server going away (node-postgres: add an `'error'` listener to the pool). The URL may
   * carry another user or database, or startup `options` (`?options=-c ...`): the `isolation` group
   * connects with session defaults set that way, so the handle must pass them to the server.
   */
  connect(url: string, options?: { connectTimeoutMs?: number }): H | Promise<H>;
  /** Closes a handle opened by `connect`. */
  disconnect(handle: H): Promise<void>;
  /** The adapter's single-database factory, e.g. `fromPgPool`. */
  fromSingle(handle: H, options?: StoreOptions): EventStore;
  /** The adapter's replica factory, e.g. `fromPgPoolAndReplica` (`replica` may be undefined). */
  fromPrimaryAndReplica(primary: H, replica: H | undefined, options?: StoreOptions): EventStore;
  /**
   * The adapter's factory for several replicas, e.g. `fromPgPoolAndReplicas`. Without it the group
   * `several-replicas` is skipped, saying so.
   */
  fromPrimaryAndReplicas?(primary: H, replicas: readonly H[], options?: StoreOptions): EventStore;
}

/** The groups of the suite, in the order they run. Each one covers a part of SPEC sections 3 and 4. */
export const CONFORMANCE_GROUPS = [
  'constructors',
  'filter-sanitising',
  'query-matrix',
  'values-and-injection',
  'append-semantics',
  'idempotent-appends',
  'unknown-outcomes',
  'concurrency',
  'isolation',
  'hand-made-filters',
  'wide-events',
  'read-barrier',
  'cancellation',
  'json-and-time',
  'routing',
  'replica-failure',
  'replication-status',
  'several-replicas',
  'consistency-tokens',
  'snapshots',
  'query-stream',
] as const;

/** A group of the suite; see `CONFORMANCE_GROUPS` and the package README. */
export type ConformanceGroup = (typeof CONFORMANCE_GROUPS)[number];

/** Options of `runConformance`. */
export interface ConformanceOptions<H> {
  /** The adapter's name, used in the `describe()` titles. */
  name: string;
  /** Returns the adapter under test. Called once, in `beforeAll`, after the cluster has started. */
  setup: () => ConformanceAdapter<H> | Promise<ConformanceAdapter<H>>;
  /**
   * Starts the primary + replica cluster the suite runs against. Default: `startCluster({ replicas: 2 })`
   * from `@es/testing` (one replica for external servers and testcontainers, which have one).
   */
  cluster?: () => Promise<Cluster>;
  /**
   * Groups to skip, each with the reason (a non-empty string): a skipped test shows the reason in its
   * title, so a certification report says what was left out and why.
   */
  skip?: Partial<Record<ConformanceGroup, string>>;
}
