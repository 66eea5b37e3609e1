import { AppendBatcher, type BatchingLimits } from './append-batcher.js';
import { appendRequest } from './append-request.js';
import { encodeToken, tableTag } from './consistency-token.js';
import { type Context, getConsistencyLevel } from './context.js';
import type { Driver, Executor, Row, Statement } from './driver.js';
import { failedBeforeSending, isConnectionFailure, sqlStateOf, toEventStoreError } from './error-mapper.js';
import {
  AppendOutcomeUnknownError,
  ConcurrencyConflictError,
  InvalidArgumentError,
  InvalidConfigurationError,
  isEventStoreError,
  ReplicaLagError,
  ReplicaUnavailableError,
  SchemaDriftError,
  TimeoutError,
} from './errors.js';
import type {
  AppendResult,
  EventStore,
  OperationName,
  OperationReport,
  QueryResult,
  QueryStreamOptions,
  ServerRole,
  StoreOptions,
} from './event-store.js';
import type { EventFilter } from './filter.js';
import { checkFilter } from './filter-check.js';
import { storeLog } from './logger.js';
import { MIGRATIONS, NEEDS_READ_COMMITTED } from './migrations/index.js';
import { schemaProblems, schemaStateStatement } from './migrations/schema-check.js';
import { consumeEvents, pumpEvents, type StreamQuery } from './query-stream.js';
import { ReplicaRouter } from './replica-routing.js';
import type { Replica } from './replica-set.js';
import { PRIMARY_LSN_STATEMENT, REPLICA_STATE_STATEMENT, replicaStatus } from './replication-status.js';
import { routeOperation } from './routing.js';
import { decodeAppendOutcomes, decodeEvent } from './rows.js';
import {
  checkProjectionType,
  checkState,
  decodeSnapshot,
  deleteSnapshotStatement,
  filterHash,
  loadSnapshotStatement,
  type SnapshotInput,
  saveSnapshotStatement,
} from './snapshots.js';
import {
  appendStatement,
  appliedVersionsStatement,
  migrationLockStatement,
  migrationStepStatements,
  migrationsTableStatements,
  queryStatement,
  READ_COMMITTED_STATEMENT,
} from './statements.js';
import { buildStorableEvent, type StorableEvent } from './storable-event.js';
import { parseTableName } from './table-name.js';

type Operation = OperationName;

/** One store call: the reports of the servers it used so far, and how long routing waited for its token. */
interface Call {
  readonly operation: Operation;
  readonly ctx: Context | undefined;
  readonly reports: OperationReport[];
  tokenWaitMs?: number;
  /** Set when the replica that answered turned out not to be in recovery (see `OperationReport`). */
  replicaNotInRecovery?: true;
  /** Whether a stream handed events to the caller already: it can then no longer fall back to another server. */
  delivered?: () => boolean;
}

/**
 * Creates a store on a primary and no, one or several replicas. Adapters call this with their drivers; it
 * holds all behaviour: routing, replica health, the append guard, error mapping, cancellation and hooks.
 */
export function createEventStore(
  primary: Driver | undefined,
  replica: Driver | readonly (Driver | undefined)[] | undefined,
  options: StoreOptions = {},
): EventStore {
  if (!primary) throw new InvalidConfigurationError('a primary database is required (got undefined or null)');
  const names = parseTableName(options.tableName);
  const tag = tableTag(names.table);
  const bound = callBound(options);
  const replicaBound = checkMs(options.replicaTimeoutMs, bound, 'replicaTimeoutMs');
  const fallback = checkFallback(options.replicaFallback);
  const given: readonly (Driver | undefined)[] = Array.isArray(replica) ? replica : replica ? [replica] : [];
  if (given.some((driver) => !driver)) {
    throw new InvalidConfigurationError('a replica is undefined or null: pass only the replicas you have');
  }
  const log = storeLog(options.logger);
  const router = new ReplicaRouter(given as readonly Driver[], options, names, firstRow, log);
  const replicas = router.set;
  const hasReplica = given.length > 0;

  /**
   * Runs one store call under `hooks.traceOperation` (when given): the call's result is `body`'s, whatever the
   * hook does with it; a hook that throws or never runs the call changes nothing.
   */
  const traced = async <T>(
    operation: Operation,
    ctx: Context | undefined,
    body: (call: Call) => Promise<T>,
  ) => {
    const call: Call = { operation, ctx, reports: [] };
    const hook = options.hooks?.traceOperation;
    if (!hook) return body(call);
    let running: Promise<T> | undefined;
    const run = () => {
      running ??= body(call);
      return running;
    };
    try {
      await hook({ operation, consistency: getConsistencyLevel(ctx), reports: call.reports, run });
    } catch (error) {
      const fromCall = running?.then(
        () => false,
        (failure: unknown) => failure === error,
      );
      if (!(await fromCall)) log.warn('hooks.traceOperation threw; the call goes on', { operation });
    }
    return run();
  };

  // Reports are built only for a hook that reads them.
  const observed = Boolean(options.hooks?.onOperation || options.hooks?.traceOperation);
  const report = (call: Call, entry: Omit<OperationReport, 'durationMs'>, started: number) => {
    const done: OperationReport = { ...entry, durationMs: performance.now() - started };
    call.reports.push(done);
    try {
      options.hooks?.onOperation?.(done);
    } catch {
      // Observability never breaks a call.
      log.warn('hooks.onOperation threw; the call goes on', { operation: entry.operation });
    }
  };

  /**
   * Runs `work` against one server, mapping errors and reporting the outcome. A replica that fails as a
   * server opens its circuit.
   */
  const run = async <T>(
    call: Call,
    on: { replica?: Replica; fellBack?: boolean },
    work: (signal: AbortSignal | undefined) => Promise<T>,
    count: (result: T) => number,
  ): Promise<T> => {
    const started = performance.now();
    const { replica } = on;
    const server: ServerRole = replica ? 'replica' : 'primary';
    const entry = () => {
      const lag = replica ? replicas.lagBound(replica) : Number.POSITIVE_INFINITY;
      return {
        operation: call.operation,
        consistency: getConsistencyLevel(call.ctx),
        server,
        serverName: replica?.name ?? 'primary',
        driver: (replica?.driver ?? primary).name,
        fellBack: on.fellBack ?? false,
        ...(replica && { circuit: replica.circuit }),
        ...(Number.isFinite(lag) && { replicaLagMs: lag }),
        ...(call.tokenWaitMs !== undefined && { tokenWaitMs: call.tokenWaitMs }),
        ...(replica && call.replicaNotInRecovery && { replicaNotInRecovery: true as const }),
      };
    };
    const signal = call.ctx?.signal;
    try {
      if (signal?.aborted) throw signal.reason;
      const result = await work(signal);
      if (observed) report(call, { ...entry(), outcome: 'ok', eventCount: count(result) }, started);
      return result;
    } catch (error) {
      const mapped = toEventStoreError(call.operation, server, error, signal, replica?.name);
      if (replica?.circuit === 'closed' && mapped.code === 'REPLICA_UNAVAILABLE') {
        log.warn('eventual read failed on a replica', {
          operation: call.operation,
          replica: replica.name,
          fallback,
        });
        replicas.failed(replica);
      }
      const outcome = mapped instanceof ConcurrencyConflictError ? 'conflict' : 'error';
      if (observed) report(call, { ...entry(), outcome, errorCode: mapped.code, eventCount: 0 }, started);
      throw mapped;
    }
  };

  // Only a driver that settles after the server has cancelled may cancel an append: the call then
  // reports what the database did, so an abort can never hide a committed append.
  const appendSignal = (signal: AbortSignal | undefined) =>
    primary.settlesAfterCancel === false ? undefined : signal;
  const batcher = new AppendBatcher(async (batch, signal) => {
    const { rows } = await readCommitted(primary, appendStatement(names, batch), appendSignal(signal));
    return decodeAppendOutcomes(rows, batch);
  }, batchingLimits(options.appendBatching));

  /**
   * Runs a read statement on `replica` (the primary when undefined), raced against the caller's signal and
   * bounded by the store: a replica that does not answer within `replicaTimeoutMs` is unavailable.
   */
  const readOn = (
    operation: Operation | 'eventstore.status',
    replica: Replica | undefined,
    statement: Statement,
    signal: AbortSignal | undefined,
  ) =>
    bounded(
      raceSignal(readCommitted(replica?.driver ?? primary, statement, signal), signal),
      replica ? replicaBound : bound,
      () => expired(operation, replica),
    );

  /**
   * A read routed as SPEC §4 says: strong to the primary; eventual to the next replica in turn whose
   * circuit is closed. A replica that fails as a server opens its circuit; then `replicaFallback` says
   * whether the read tries the next replica, the primary, or fails.
   */
  const routedRead = async <T>(
    call: Call,
    work: (replica: Replica | undefined, signal: AbortSignal | undefined) => Promise<T>,
    count: (result: T) => number,
  ): Promise<T> => {
    const { operation, ctx } = call;
    const read = (replica: Replica | undefined, fellBack = false) =>
      run(call, { ...(replica && { replica }), fellBack }, (signal) => work(replica, signal), count);
    if (routeOperation('query', getConsistencyLevel(ctx), hasReplica) === 'primary') return read(undefined);
    const routing = performance.now();
    const candidates = await router.route(ctx);
    if (ctx?.token !== undefined) call.tokenWaitMs = performance.now() - routing;
    if ('stale' in candidates) {
      const reason =
        'maxLagMs' in candidates.stale ? 'no replica within maxLagMs' : 'no replica reached the token';
      log.info(`eventual read: ${reason}`, {
        operation,
        ...candidates.stale,
        onStaleRead: router.onStaleRead,
      });
      if (router.onStaleRead === 'primary') return read(undefined, true);
      const stale = new ReplicaLagError(operation, candidates.stale);
      return run(call, { replica: replicas.all[0] as Replica }, () => Promise.reject(stale), count);
    }
    let failure: unknown;
    for (const replica of candidates) {
      try {
        return await read(replica);
      } catch (error) {
        // A stream that has handed out events cannot start again elsewhere.
        if (!isEventStoreError(error, 'REPLICA_UNAVAILABLE') || call.delivered?.()) throw error;
        failure = error;
        if (fallback !== 'next-replica') break;
      }
    }
    if (fallback === 'primary') {
      log.info('eventual read falls back to the primary', { operation });
      return read(undefined, true);
    }
    if (failure) throw failure;
    // Every circuit is open: fail at once, reported like any other call.
    return run(
      call,
      { replica: replicas.all[0] as Replica },
      () => Promise.reject(allOpen(operation)),
      count,
    );
  };

  /** A snapshot write: always on the primary, whatever the context asks. */
  const onPrimary = (operation: Operation, ctx: Context | undefined, statement: Statement) =>
    traced(operation, ctx, (call) =>
      run(
        call,
        {},
        (signal) => readOn(operation, undefined, statement, signal),
        () => 0,
      ),
    );

  /** The first row of `statement` on `replica` (or the primary), or undefined when it fails or does not answer in time. */
  function firstRow(replica: Replica | undefined, statement: Statement) {
    return readOn('eventstore.status', replica, statement, undefined).then(
      ({ rows }) => rows[0],
      () => undefined,
    );
  }

  return Object.freeze({
    tableName: names.table,

    async replicationStatus() {
      if (!hasReplica) return [];
      const [primaryRow, ...replicaRows] = await Promise.all([
        firstRow(undefined, PRIMARY_LSN_STATEMENT),
        ...replicas.all.map((replica) => firstRow(replica, REPLICA_STATE_STATEMENT)),
      ]);
      return replicas.all.map((replica, index) =>
        replicaStatus(replica.name, primaryRow?.lsn ?? undefined, replicaRows[index], replica.circuit),
      );
    },

    async close() {
      router.close();
    },

    async migrate(ctx?: Context): Promise<void> {
      await traced('eventstore.migrate', ctx, async (call) => {
        await run(
          call,
          {},
          () => primary.transaction((tx) => migrateIn(tx)),
          () => 0,
        );
        await router.caughtUp(Date.now() + MIGRATE_REPLAY_WAIT_MS);
      });
    },

    async query(ctx: Context | undefined, filter: EventFilter): Promise<QueryResult> {
      // Only a strong read takes the read barrier; strong reads always go to the primary. Every read returns
      // the token of what it saw.
      // A read on a replica asks, now and then, whether its server is a standby (see recoveryCheckDue).
      const strong = getConsistencyLevel(ctx) === 'strong';
      const given = ctx?.token;
      const checked = checkFilter(filter);
      const statement = queryStatement(names, checked, strong);
      return traced('eventstore.query', ctx, (call) =>
        routedRead(
          call,
          async (replica, signal) => {
            const asks = replica !== undefined && router.recoveryCheckDue(replica);
            const sent = asks ? queryStatement(names, checked, false, true) : statement;
            const { rows } = await readOn('eventstore.query', replica, sent, signal);
            const inRecovery = rows[0]?.in_recovery;
            if (replica && asks && inRecovery !== undefined) {
              router.sawRecovery(replica, inRecovery === 'true');
              if (inRecovery === 'false') call.replicaNotInRecovery = true;
            }
            return toQueryResult(rows, given);
          },
          (result) => result.events.length,
        ),
      );
    },

    queryStream(ctx: Context | undefined, filter: EventFilter, streamOptions?: QueryStreamOptions) {
      const plan = {
        names,
        filter: checkFilter(filter),
        strong: getConsistencyLevel(ctx) === 'strong',
        batchSize: checkBatchSize(streamOptions?.batchSize),
      };
      return consumeEvents((handoff) =>
        traced('eventstore.queryStream', ctx, (call) =>
          routedRead(
            call,
            (replica, signal) => {
              // Each statement bounded like a read. Not raced against the caller's signal: the driver cancels
              // it, and the transaction may end (and its connection go back to the pool) only after that.
              // Checked before each statement too: a transaction's executor may not take a signal (Kysely's).
              const query: StreamQuery = (executor, statement) => {
                signal?.throwIfAborted();
                return bounded(
                  executor.query(statement, signal ? { signal } : {}),
                  replica ? replicaBound : bound,
                  () => expired('eventstore.queryStream', replica),
                );
              };
              call.delivered = () => handoff.started;
              return pumpEvents(replica?.driver ?? primary, plan, query, handoff);
            },
            (count) => count,
          ),
        ),
      );
    },

    async saveSnapshot(ctx: Context | undefined, snapshot: SnapshotInput): Promise<void> {
      const { type, hash } = await snapshotKey(snapshot?.projectionType, snapshot?.filter);
      const sequenceNumber = toSequenceNumber(snapshot.sequenceNumber, 'saveSnapshot: sequenceNumber');
      const state = checkState(snapshot.state);
      await onPrimary(
        'eventstore.snapshot.save',
        ctx,
        saveSnapshotStatement(names, type, hash, sequenceNumber, state),
      );
    },

    async loadSnapshot(ctx: Context | undefined, projectionType: string, filter: EventFilter) {
      const { type, hash } = await snapshotKey(projectionType, filter);
      return traced('eventstore.snapshot.load', ctx, (call) =>
        routedRead(
          call,
          async (replica, signal) => {
            const statement = loadSnapshotStatement(names, type, hash);
            const [row] = (await readOn('eventstore.snapshot.load', replica, statement, signal)).rows;
            return row ? decodeSnapshot(type, hash, row) : undefined;
          },
          (snapshot) => (snapshot ? 1 : 0),
        ),
      );
    },

    async deleteSnapshot(ctx: Context | undefined, projectionType: string, filter: EventFilter) {
      const { type, hash } = await snapshotKey(projectionType, filter);
      await onPrimary('eventstore.snapshot.delete', ctx, deleteSnapshotStatement(names, type, hash));
    },

    async append(
      ctx: Context | undefined,
      filter: EventFilter,
      expectedMaxSequenceNumber: bigint,
      ...events: StorableEvent[]
    ): Promise<AppendResult> {
      try {
        routeOperation('append', getConsistencyLevel(ctx), hasReplica);
      } catch (refused) {
        // Refused before any statement, and reported like any other failed call.
        return traced('eventstore.append', ctx, (call) =>
          run<AppendResult>(
            call,
            {},
            () => Promise.reject(refused),
            () => 0,
          ),
        );
      }
      const request = appendRequest(
        checkFilter(filter),
        toSequenceNumber(expectedMaxSequenceNumber),
        events.map((event) => buildStorableEvent(event)),
      );
      if (request.events.length === 0) return { sequenceNumbers: [] };
      return traced('eventstore.append', ctx, (call) =>
        run(
          call,
          {},
          // Not raced against the signal: the batch is cancelled on the server, and the call reports what
          // the database did. Past its bound (and a grace for a cancel), its outcome is unknown.
          async (signal) => {
            const unknown = (cause: unknown) =>
              new AppendOutcomeUnknownError('eventstore.append', request.identified, cause);
            const submitted = batcher.submit(request, signal).catch((error: unknown) => {
              if (!isConnectionFailure(error) || failedBeforeSending(error)) throw error;
              throw unknown(error);
            });
            const { max, positions, lsn } = await bounded(submitted, bound + CANCEL_GRACE_MS, () =>
              unknown(undefined),
            );
            if (!positions) {
              log.debug('append refused by the guard: the boundary changed since it was read', {
                operation: 'eventstore.append',
                events: request.events.length,
              });
              throw new ConcurrencyConflictError(request.expected, max);
            }
            const last = positions.at(-1) as bigint;
            const event = { tableTag: tag, position: last };
            return { sequenceNumbers: positions, ...(lsn && { token: encodeToken({ lsn, event }) }) };
          },
          (result) => result.sequenceNumbers.length,
        ),
      );
    },
  });

  /** Applies the missing migration steps and checks the result, in one transaction, serialised with other migrators. */
  async function migrateIn(tx: Executor): Promise<void> {
    await tx.query(migrationLockStatement(names));
    for (const statement of migrationsTableStatements(names)) await tx.query(statement);
    const { rows } = await tx.query(appliedVersionsStatement(names));
    const applied = new Set(rows.map((row) => Number(row.version)));
    const unknown = [...applied].filter((version) => !MIGRATIONS.some((step) => step.version === version));
    if (unknown.length > 0) {
      throw new SchemaDriftError([
        `migration step ${Math.max(...unknown)} was applied by a newer version of @es/core; upgrade this one`,
      ]);
    }
    for (const migration of MIGRATIONS) {
      if (applied.has(migration.version)) continue;
      for (const statement of migrationStepStatements(names, migration.version)) await tx.query(statement);
    }
    const state = await tx.query(schemaStateStatement(names));
    const problems = schemaProblems(names, state.rows[0]?.state ?? '{}');
    if (problems.length > 0) throw new SchemaDriftError(problems);
  }
}

/**
 * Runs one store statement. The store's functions need READ COMMITTED (each of their statements then
 * takes a fresh snapshot after the locks); on a session whose default is REPEATABLE READ or SERIALIZABLE
 * they refuse before doing anything, and the statement runs again in an explicit READ COMMITTED
 * transaction.
 */
async function readCommitted(
  driver: Driver,
  statement: Statement,
  signal: AbortSignal | undefined,
): Promise<{ rows: readonly Row[] }> {
  const options = signal ? { signal } : {};
  try {
    return await driver.query(statement, options);
  } catch (error) {
    if (sqlStateOf(error) !== NEEDS_READ_COMMITTED) throw error;
    return driver.transaction(async (tx) => {
      await tx.query(READ_COMMITTED_STATEMENT);
      return tx.query(statement, options);
    });
  }
}

/** The limits of `StoreOptions.appendBatching`. */
function batchingLimits(option: StoreOptions['appendBatching']): BatchingLimits {
  const limits = { concurrency: 2, maxAppends: 64, maxKeys: 1024, stuckAfterMs: 10 };
  if (option === false) return { ...limits, concurrency: Number.POSITIVE_INFINITY, maxAppends: 1 };
  const positive = (value: number | undefined, fallback: number, name: string) => {
    if (value === undefined) return fallback;
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new InvalidConfigurationError(`appendBatching.${name} must be a positive integer`);
    }
    return value;
  };
  return {
    ...limits,
    concurrency: positive(option?.concurrency, limits.concurrency, 'concurrency'),
    maxAppends: positive(option?.maxAppends, limits.maxAppends, 'maxAppends'),
  };
}

/**
 * A query's result, with the token of the state it saw: its server's WAL position read with the rows (see
 * `queryStatement`), or, when no row came back, the token it was given (if any).
 */
function toQueryResult(rows: readonly Row[], given?: string): QueryResult {
  const events = rows.map(decodeEvent);
  const lsn = rows.at(-1)?.state_lsn;
  const token = lsn ? encodeToken({ lsn }) : given;
  return { events, maxSequenceNumber: events.at(-1)?.sequenceNumber ?? 0n, ...(token && { token }) };
}

const MAX_BIGINT = 2n ** 63n - 1n;

/** A snapshot's key, validated: the projection type and the hash of the checked filter. */
async function snapshotKey(
  projectionType: unknown,
  filter: unknown,
): Promise<{ type: string; hash: string }> {
  const type = checkProjectionType(projectionType);
  return { type, hash: await filterHash(checkFilter(filter)) };
}

/** A position as a bigint; a safe non-negative integer `number` is accepted for JavaScript callers. */
function toSequenceNumber(value: unknown, what = 'append: expectedMaxSequenceNumber'): bigint {
  const position = typeof value === 'number' && Number.isSafeInteger(value) ? BigInt(value) : value;
  if (typeof position !== 'bigint' || position < 0n || position > MAX_BIGINT) {
    throw new InvalidArgumentError(`${what} must be a bigint between 0 and 2^63-1`);
  }
  return position;
}

/** The default of `StoreOptions.connectTimeoutMs`, for adapters that give it to their pools. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

/** The error of an eventual read when every replica's circuit is open and nothing may fall back. */
function allOpen(operation: string): ReplicaUnavailableError {
  return new ReplicaUnavailableError(
    operation,
    new Error('every replica failed recently (its circuit is open) and is probed until it answers again'),
  );
}

/** The error of a read that did not answer within its bound: a replica that does so is unavailable. */
function expired(operation: string, replica: Replica | undefined): Error {
  const timeout = new TimeoutError(operation, undefined);
  return replica ? new ReplicaUnavailableError(operation, timeout, replica.name) : timeout;
}

/** `QueryStreamOptions.batchSize`, validated (default 1,000). */
function checkBatchSize(value: unknown): number {
  if (value === undefined) return 1_000;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1 || value > 100_000) {
    throw new InvalidArgumentError('queryStream: batchSize must be a whole number from 1 to 100,000');
  }
  return value;
}

/** `StoreOptions.replicaFallback`, validated. */
function checkFallback(value: StoreOptions['replicaFallback']): 'none' | 'primary' | 'next-replica' {
  if (value === undefined) return 'none';
  if (value === 'none' || value === 'primary' || value === 'next-replica') return value;
  throw new InvalidConfigurationError("replicaFallback must be 'none', 'primary' or 'next-replica'");
}

/** How long `migrate()` waits for the replica to replay the schema it created. */
const MIGRATE_REPLAY_WAIT_MS = 5_000;

/** How much longer than its bound an append may take (a cancel to answer) before its outcome is unknown. */
const CANCEL_GRACE_MS = 2_000;

/** The bound of a read or an append, in ms: `connectTimeoutMs + statementTimeoutMs` (validated). */
function callBound(options: StoreOptions): number {
  return (
    checkMs(options.connectTimeoutMs, DEFAULT_CONNECT_TIMEOUT_MS, 'connectTimeoutMs') +
    checkMs(options.statementTimeoutMs, 30_000, 'statementTimeoutMs')
  );
}

/** A duration option in ms, validated, or `fallback` when not given. */
function checkMs(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1 || value > 2 ** 30) {
    throw new InvalidConfigurationError(`${name} must be a whole number of milliseconds from 1 to 2^30`);
  }
  return value;
}

/**
 * Settles with `work`, or rejects with `expired()` when `work` has not settled within `ms`. The store's own
 * bound on a call: a timer, not a signal, so the driver keeps its fast path (only a caller's signal makes
 * it cancel on the server).
 */
function bounded<T>(work: Promise<T>, ms: number, expired: () => Error): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expiry = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(expired()), ms);
    timer.unref?.();
  });
  return Promise.race([work, expiry]).finally(() => clearTimeout(timer));
}

/** Rejects as soon as `signal` aborts; the driver is asked to cancel the statement too. */
function raceSignal<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
