import type { ConsistencyLevel, Context } from './context.js';
import type { EventFilter } from './filter.js';
import type { Logger } from './logger.js';
import type { CircuitState } from './replica-set.js';
import type { ReplicaStatus } from './replication-status.js';
import type { Snapshot, SnapshotInput } from './snapshots.js';
import type { StorableEvent, StoredEvent } from './storable-event.js';

/** What `query` returns. */
export interface QueryResult {
  /** The matching events in ascending position order. */
  readonly events: readonly StoredEvent[];
  /** The position of the last returned event; `0n` when none matched. Pass it to `append`. */
  readonly maxSequenceNumber: bigint;
  /**
   * A token of the state this read saw (the WAL position its server had replayed or written while reading),
   * at least the one it was given (`withConsistencyToken`): pass it to the next read for monotonic reads.
   * Strong reads return one too. Undefined only when no event matched and the read was given no token.
   */
  readonly token?: string;
}

/** What `append` returns. */
export interface AppendResult {
  /** The positions given to the appended events, in argument order (ascending). Empty for zero events. */
  readonly sequenceNumbers: readonly bigint[];
  /**
   * A consistency token of a state that includes this append: `withConsistencyToken(ctx, token)` makes an
   * eventual read see it (read your writes), on any replica. Undefined for an append of zero events.
   */
  readonly token?: string;
}

/** Options of `queryStream`. */
export interface QueryStreamOptions {
  /**
   * How many events one round trip fetches (default 1,000; 1 to 100,000). The stream holds about two
   * batches in memory, however many events match.
   */
  readonly batchSize?: number;
}

/** Which server answered a call. */
export type ServerRole = 'primary' | 'replica';

/** The name of a store call, like the Go original's span names. */
export type OperationName =
  | 'eventstore.query'
  | 'eventstore.queryStream'
  | 'eventstore.append'
  | 'eventstore.migrate'
  | 'eventstore.snapshot.save'
  | 'eventstore.snapshot.load'
  | 'eventstore.snapshot.delete';

/**
 * Reported through `StoreOptions.hooks.onOperation` once per server a call used: once for most calls, once
 * more for each replica an eventual read failed on before it was answered (`replicaFallback`).
 */
export interface OperationReport {
  readonly operation: OperationName;
  /** The consistency the caller asked for. */
  readonly consistency: ConsistencyLevel;
  /** The server that served (or failed) the call. */
  readonly server: ServerRole;
  /** `primary`, or the name of the replica (`replica-1`, ... or `StoreOptions.replicaNames`). */
  readonly serverName: string;
  /** The driver of that server's adapter (`pg`, ...). */
  readonly driver: string;
  /**
   * `true` when an eventual read went to the primary: its replica failed and `replicaFallback` allowed it,
   * or no replica was fresh enough (`maxLagMs`) or reached its token in time and `onStaleRead` is `primary`.
   */
  readonly fellBack: boolean;
  /** `ok`, `conflict` (append refused by the guard) or `error`. */
  readonly outcome: 'ok' | 'conflict' | 'error';
  /** The error's `code` when `outcome` is `error`. */
  readonly errorCode?: string;
  /** Events returned (query), handed out (queryStream) or appended (append). */
  readonly eventCount: number;
  readonly durationMs: number;
  /** For a replica: its circuit when the call ended (`open` after it failed as a server). */
  readonly circuit?: CircuitState;
  /** For a replica: at most how far behind the primary it was known to be, in ms, when measured. */
  readonly replicaLagMs?: number;
  /** For an eventual read given a consistency token: how long it waited for a replica that reached it, in ms. */
  readonly tokenWaitMs?: number;
  /**
   * `true` when the replica that answered an eventual read is not in recovery: it is a primary (primary and
   * replica swapped, or a promoted standby), so the read bypassed replication. Also logged, once per replica.
   */
  readonly replicaNotInRecovery?: true;
}

/** One store call as `hooks.traceOperation` sees it. */
export interface TracedOperation<T = unknown> {
  readonly operation: OperationName;
  /** The consistency the caller asked for. */
  readonly consistency: ConsistencyLevel;
  /**
   * Runs the call (once: later calls return the same promise); settles with its result or its typed error.
   * For `queryStream`, it runs the whole stream: it settles when the stream ended or was left.
   */
  run(): Promise<T>;
  /** The call's reports so far, one per server it used (see `OperationReport`); complete once `run()` settled. */
  readonly reports: readonly OperationReport[];
}

/** Observability hooks. A hook that throws is ignored: observability never breaks a call. */
export interface ObservabilityHooks {
  /** Called when a call has finished on a server. */
  onOperation?(report: OperationReport): void;
  /**
   * Wraps every store call, from before its routing to its end: it must call `operation.run()` and may
   * await it. What runs inside `run()` (routing, the driver's calls) runs in the async context the hook
   * set up, so a span the hook makes active there is the parent of the driver's spans. The call's result
   * is `run()`'s, whatever the hook returns; a hook that throws or never calls `run()` changes nothing
   * (the call then runs by itself). `@es/opentelemetry` builds its spans on this.
   */
  traceOperation?(operation: TracedOperation): Promise<unknown>;
}

/** Options every adapter factory accepts. */
export interface StoreOptions {
  /**
   * The events table: a plain or schema-qualified identifier (`events`, `app.events`), letters,
   * digits and underscores, starting with a letter or underscore. Default `events`.
   */
  readonly tableName?: string;
  /** Observability hooks. */
  readonly hooks?: ObservabilityHooks;
  /**
   * Where the store says what it did and why: circuit changes and failed replicas (warn), fallbacks to the
   * primary and stale replicas (info), guard conflicts (debug), a replica that is not a standby (warn).
   * Never payloads, parameter values or credentials. `console` works as it is; for pino use
   * `pinoLogger(pino)`. Nothing is logged by default.
   */
  readonly logger?: Logger;
  /**
   * What an eventual read does when its replica fails as a server (connection refused or lost, no answer
   * within `replicaTimeoutMs`), or when every replica's circuit is open: `none` (default) throws
   * `ReplicaUnavailableError`; `next-replica` tries the other replicas whose circuit is closed, in turn,
   * then throws; `primary` reads the primary instead and reports `fellBack`.
   */
  readonly replicaFallback?: 'none' | 'primary' | 'next-replica';
  /**
   * The replicas' names, in the order the factory was given them (default `replica-1`, `replica-2`, ...):
   * reported as `serverName`, in `ReplicaUnavailableError.replica` and by `replicationStatus()`. Distinct,
   * 1 to 64 letters, digits, `_`, `-` or `.`.
   */
  readonly replicaNames?: readonly string[];
  /**
   * How long an eventual read may wait for a replica, in ms (default: the store's bound,
   * `connectTimeoutMs + statementTimeoutMs`). A replica that has not answered by then fails the read with
   * `ReplicaUnavailableError` and its circuit opens, like one that refused or dropped the connection: reads
   * then skip it until a probe (every 500 ms) finds it answering again. Set it to a little more than your
   * slowest eventual read for fast failover.
   */
  readonly replicaTimeoutMs?: number;
  /**
   * The default staleness bound of eventual reads, in ms (none by default): a replica not known to be
   * within it of the primary is skipped. A read's own `withEventualConsistency(ctx, { maxLagMs })` wins.
   * Lag is measured on the servers every 200 ms once a read needs it (the primary's WAL position against
   * each replica's replayed one, and the age of its last replayed commit), and again at once when no replica
   * is known to be fresh enough.
   */
  readonly maxReplicaLagMs?: number;
  /**
   * What an eventual read does when no replica is known to be within its staleness bound, or none reached
   * its consistency token within `tokenWaitMs`: read the primary (`'primary'`, the default, reported as
   * `fellBack`) or fail with `ReplicaLagError` (`'error'`).
   */
  readonly onStaleRead?: 'primary' | 'error';
  /**
   * How eventual reads pick among the healthy replicas: `'round-robin'` (default) or `'least-lag'` (the
   * one with the smallest measured lag first; round-robin until the first measurement).
   */
  readonly replicaSelection?: 'round-robin' | 'least-lag';
  /**
   * How long an eventual read with a consistency token waits for a replica that has reached it, in ms
   * (default 1,000), polling the healthy replicas; then `onStaleRead` decides.
   */
  readonly tokenWaitMs?: number;
  /**
   * How concurrent appends of this store share statements. While `concurrency` (default 2) batches are
   * in flight, further appends wait and then go together, up to `maxAppends` (default 64) per statement,
   * each with its own guard: one round trip and one commit serve many appends. Appends whose boundaries
   * touch never share a batch; a batch waiting on a lock for more than a few milliseconds no longer
   * holds back the next one. With few concurrent appends nothing waits. `false`: every append is a
   * statement of its own, sent at once.
   */
  readonly appendBatching?: false | { readonly concurrency?: number; readonly maxAppends?: number };
  /**
   * How long a call may wait for a connection, in ms (default 10,000), whatever the pool was given.
   * Adapters whose pools take a connect timeout give it to a pool that has none (`@es/pg`, `@es/neon`);
   * the store bounds every read and append by `connectTimeoutMs + statementTimeoutMs` in all.
   */
  readonly connectTimeoutMs?: number;
  /**
   * How long a read or an append may run once connected, in ms (default 30,000). A read past
   * `connectTimeoutMs + statementTimeoutMs` fails with a retryable `TimeoutError`; an append not answered
   * 2 s after that fails with `AppendOutcomeUnknownError` (it may still commit). The store's bound does not
   * cancel the statement on the server (a timer, so that drivers keep their fast path): to cancel, give
   * the call a signal, e.g. `withTimeout(ctx, ms)`, whose abort cancels it there. `migrate()` is not bounded.
   */
  readonly statementTimeoutMs?: number;
}

/** The event store. Adapters create it; the methods are the same for every driver. */
export interface EventStore {
  /**
   * Creates or updates the schema on the primary. Idempotent and safe to run concurrently. With a replica,
   * it then waits (up to 5 s) until the replica has replayed the change, so that eventual reads right after
   * it find the schema there; a replica that does not answer, or is further behind, is not waited for.
   */
  migrate(ctx?: Context): Promise<void>;
  /** Reads the events matching `filter`, in position order, from the server the context routes to. */
  query(ctx: Context | undefined, filter: EventFilter): Promise<QueryResult>;
  /**
   * The events `query` would return, in position order, as an async iterable that holds only a batch or
   * two in memory: for projections over millions of events. The same guarantees as `query`: a strong
   * stream takes the filter's read barrier first and returns every matching event up to the bound it got
   * (a valid decision read); an eventual one may run on a replica, in one snapshot (a cursor in a
   * transaction). Iterate it once. Leaving the loop early (`break`, an exception) or aborting the context's
   * signal stops it and releases its connection before the loop exits. A connection is held, in an open
   * transaction, while you iterate: keep the loop body short or use a replica. Over Neon's HTTP driver it
   * reads keyset pages, each in its own snapshot (a strong stream still stops at its barrier's bound).
   * A replica read cancelled by the standby ("conflict with recovery") fails with the retryable
   * `ReplicationConflictError`.
   */
  queryStream(
    ctx: Context | undefined,
    filter: EventFilter,
    options?: QueryStreamOptions,
  ): AsyncIterable<StoredEvent>;
  /**
   * Appends `events` atomically if, and only if, the largest position matching `filter` is still
   * `expectedMaxSequenceNumber` (and stays so until the append commits); otherwise throws
   * `ConcurrencyConflictError` and appends nothing. Always runs on the primary; an eventual context
   * is refused.
   */
  append(
    ctx: Context | undefined,
    filter: EventFilter,
    expectedMaxSequenceNumber: bigint,
    ...events: StorableEvent[]
  ): Promise<AppendResult>;
  /**
   * Saves a projection's state, built from the events matching `filter` up to `sequenceNumber`, under
   * (projection type, filter hash), on the primary. A snapshot with a lower `sequenceNumber` never
   * overwrites a stored higher one (concurrent saves included); an equal one replaces it.
   */
  saveSnapshot(ctx: Context | undefined, snapshot: SnapshotInput): Promise<void>;
  /** The snapshot of (projection type, filter), or undefined; routed like a query (eventual: a replica). */
  loadSnapshot(
    ctx: Context | undefined,
    projectionType: string,
    filter: EventFilter,
  ): Promise<Snapshot | undefined>;
  /** Deletes the snapshot of (projection type, filter) on the primary; nothing when there is none. */
  deleteSnapshot(ctx: Context | undefined, projectionType: string, filter: EventFilter): Promise<void>;
  /**
   * The state of each replica, asked from the servers in one round trip each (in parallel, bounded like a
   * read), in configuration order: name, reachable, in recovery, replayed position, lag in bytes and in
   * ms, circuit. Empty without a replica. Never throws for a replica that does not answer (it is reported
   * unreachable).
   */
  replicationStatus(): Promise<ReplicaStatus[]>;
  /**
   * Stops the store's own timers (the probe of replicas whose circuit is open; every timer is unref'd and
   * none keeps the process alive) and never ends the caller's pools; idempotent. Calls made after it still
   * run, with every replica's circuit closed for good.
   */
  close(): Promise<void>;
  /** The qualified, quoted table name the store uses. */
  readonly tableName: string;
}
