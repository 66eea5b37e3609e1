import type { Driver, EventStore, Executor, Row, Statement, StoreOptions } from '@es/core';
import {
  acquireUnlessAborted,
  createEventStore,
  InvalidConfigurationError,
  inTransaction,
  isConnectionFailure,
  replicaDrivers,
  runCancellable,
} from '@es/core';

/**
 * The postgres.js adapter: moves core's statements to a `postgres()` instance and rows back. Everything
 * else (SQL, routing, errors) lives in `@es/core`. postgres.js is described by the part of its shape the
 * adapter uses, so this package needs nothing from `postgres` at run time.
 */

/** A postgres.js query (`PendingQuery`): a promise of its rows that can be cancelled. */
export type PostgresJsQueryLike = Promise<readonly Row[]> & { cancel(): void };

/**
 * What runs a statement: a postgres.js `Sql`, or a connection it reserved (`ReservedSql`).
 * @typeParam P - the parameter object `typed` makes (`postgres.Parameter`).
 */
export interface PostgresJsQueryable<P> {
  unsafe(query: string, parameters: P[], options: { prepare: boolean }): PostgresJsQueryLike;
  typed(value: string | null, oid: number): P;
}

/** postgres.js's parsed `transform` option: the store refuses a Sql with any `from` hook. */
type TransformHooks = { readonly [hook in 'column' | 'value' | 'row']?: { readonly from?: unknown } };

/** The part of a postgres.js `Sql` (what `postgres(url, options)` returns) the adapter uses. */
export interface PostgresJsLike<P = unknown> extends PostgresJsQueryable<P> {
  readonly options: {
    readonly fetch_types?: boolean;
    readonly transform?: TransformHooks;
    /** The Sql's shared state: `retries` counts the failed connects since the last success. */
    readonly shared?: object;
  };
  reserve(): Promise<PostgresJsQueryable<P> & { release(): void }>;
}

/**
 * Sends every value typed as `text` (OID 25), cast in core's SQL: left untyped, postgres.js would
 * serialize it by the type the server infers (a string for `$1::jsonb` JSON-encoded again, `'true'` for
 * `::boolean` sent as false). Only statements whose plan may be reused are prepared (and only when the
 * Sql does not have `prepare: false`): a prepared plain read would get a generic plan after 5 runs.
 */
function run<P>(on: PostgresJsQueryable<P>, { text, values, reusablePlan }: Statement) {
  const parameters = values.map((value) => on.typed(value, 25));
  return on.unsafe(text, parameters, { prepare: reusablePlan === true });
}

type Cancellable = PostgresJsQueryLike & { canceller?: (query: unknown) => Promise<void> };

/**
 * Sends PostgreSQL's cancel request for `query` and resolves once its socket has closed (core repeats it
 * until the query settles). `query.cancel()` drops the promise of postgres.js's canceller (3.4.x), so
 * that is called directly.
 */
const cancelOf = (query: Cancellable) => async () => {
  await (typeof query.canceller === 'function' ? query.canceller(query) : query.cancel());
};

/**
 * postgres.js 3.4 keeps the FATAL error of a session the server ended under a query (a shutdown or
 * `pg_terminate_backend`: 57P01; a crash: 57P02) and rejects the first query of the connection that
 * replaces it with that error (porsager/postgres#1223 is another way there). The query in flight is told
 * CONNECTION_CLOSED, so a FATAL of these codes only ever reaches a query the server never saw: one is sent
 * again, once. Without that, a replica's first read after a restart fails and opens its circuit.
 */
async function resentOnStaleFatal<T>(send: () => Promise<T>): Promise<T> {
  try {
    return await send();
  } catch (error) {
    const { severity, code } = (error ?? {}) as { severity?: unknown; code?: unknown };
    if (severity !== 'FATAL' || (code !== '57P01' && code !== '57P02')) throw error;
    return send();
  }
}

type Use<T> = (connection: Executor) => Promise<T>;
const release = (connection: { release(): void }) => connection.release();

/**
 * Runs `use` on a reserved connection: a cancel request stops whatever its session runs, so that session
 * must run nothing but ours until the cancel is done. Once the connection is lost nothing more is written
 * to it and it is not released: postgres.js 3.4.9 would put the closed connection back into the pool and
 * crash the process on its next write (porsager/postgres#1199, #1208).
 */
async function withReserved<P, T>(sql: PostgresJsLike<P>, signal: AbortSignal | undefined, use: Use<T>) {
  const reserved = await acquireUnlessAborted(() => resentOnStaleFatal(() => sql.reserve()), release, signal);
  let lost: { error: unknown } | undefined;
  const query = async (statement: Statement, options?: { readonly signal?: AbortSignal }) => {
    if (lost) throw lost.error;
    const pending = run(reserved, statement);
    const signal = options?.signal;
    try {
      return { rows: await (signal ? runCancellable(() => pending, cancelOf(pending), signal) : pending) };
    } catch (error) {
      if (isConnectionFailure(error)) lost = { error };
      throw error;
    }
  };
  try {
    return await use({ query });
  } finally {
    if (!lost) reserved.release();
  }
}

/**
 * The highest failed-connect count postgres.js's `backoff` is given once a store uses the Sql: its default
 * backoff then waits at most 3^3 / 100 s = 0.27 s before a connection tries again.
 */
const MAX_BACKOFF_RETRIES = 3;

/**
 * Bounds postgres.js's reconnect backoff. Before a connection tries again it waits `backoff(retries)`
 * seconds, where `retries` counts every failed connect of the whole Sql since the last success: with the
 * default backoff that reaches 20 s while a server is down, and every call meanwhile waits it out (18.5 s
 * measured for a primary down 2 s, and 4.8 s to recover after it was back). The count is kept in
 * `sql.options.shared.retries`, which postgres.js 3.4 reads and writes at each failure; it is capped here
 * at {@link MAX_BACKOFF_RETRIES}. A Sql of another shape is left as it is.
 */
function boundBackoff(sql: PostgresJsLike<unknown>): void {
  const shared = sql.options?.shared;
  const current = shared && Object.getOwnPropertyDescriptor(shared, 'retries');
  if (!shared || typeof current?.value !== 'number') return; // another shape, or bounded already
  let retries = Math.min(current.value, MAX_BACKOFF_RETRIES);
  Object.defineProperty(shared, 'retries', {
    configurable: true,
    enumerable: true,
    get: () => retries,
    set: (value: number) => {
      retries = Math.min(value, MAX_BACKOFF_RETRIES);
    },
  });
}

/** Why `sql` cannot back a store, if it cannot. */
function unsupported({ options, reserve }: PostgresJsLike<unknown>): string | undefined {
  if (Object.values(options?.transform ?? {}).some((hook) => hook?.from))
    return 'the store needs rows as the server sends them; give it a Sql without `transform`';
  if (options?.fetch_types === false)
    return '`fetch_types: false` is not supported: sql.reserve() never settles then (porsager/postgres#751)';
  if (typeof reserve !== 'function') return 'pass the Sql that postgres() returned, not a reserved one';
}

/**
 * Wraps a postgres.js `Sql` as a core `Driver`; `name` is what hooks report as the driver. Throws
 * `InvalidConfigurationError` for a Sql the store cannot use (with `transform` or `fetch_types: false`).
 * Bounds the Sql's reconnect backoff (see {@link MAX_BACKOFF_RETRIES}), so that a call to a server that is
 * down fails fast and calls succeed again within a fraction of a second of its return.
 */
export function postgresJsDriver<P>(sql: PostgresJsLike<P>, name = 'postgres.js'): Driver {
  const reason = unsupported(sql);
  if (reason) throw new InvalidConfigurationError(`postgres.js: ${reason}`);
  boundBackoff(sql);
  return {
    name,
    // A session the server ends while idle in a transaction is lost without an error, and the next
    // statement's write throws uncaught (porsager/postgres#1199): streams read keyset pages instead.
    cursorStreams: false,
    query: async (statement, options) =>
      options?.signal
        ? withReserved(sql, options.signal, (connection) => connection.query(statement, options))
        : { rows: await resentOnStaleFatal(() => run(sql, statement)) },
    transaction: (fn) => withReserved(sql, undefined, (connection) => inTransaction(connection, fn)),
  };
}

const driverOf = <P>(sql: PostgresJsLike<P> | undefined) => (sql ? postgresJsDriver(sql) : undefined);

/** A store on one PostgreSQL server: every call goes to `sql` (a `postgres()` instance). */
export function fromPostgresJs<P>(sql: PostgresJsLike<P>, options?: StoreOptions): EventStore {
  return createEventStore(driverOf(sql), undefined, options);
}

/**
 * A store on a primary and a replica (two `postgres()` instances): strong reads, appends and migrations
 * use `primary`; eventual reads use `replica`. With `replica` undefined every call goes to the primary.
 */
export function fromPostgresJsAndReplica<P, R>(
  primary: PostgresJsLike<P>,
  replica: PostgresJsLike<R> | undefined,
  options?: StoreOptions,
): EventStore {
  return createEventStore(driverOf(primary), driverOf(replica), options);
}

/**
 * A store on a primary and several replicas (`postgres()` instances), routed as `fromPgPoolAndReplicas`
 * in `@es/pg`: eventual reads spread over the healthy replicas, everything else uses `primary`.
 */
export function fromPostgresJsAndReplicas<P, R>(
  primary: PostgresJsLike<P>,
  replicas: readonly PostgresJsLike<R>[],
  options?: StoreOptions,
): EventStore {
  return createEventStore(driverOf(primary), replicaDrivers(replicas, driverOf), options);
}
