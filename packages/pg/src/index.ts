import {
  acquireUnlessAborted,
  createEventStore,
  DEFAULT_CONNECT_TIMEOUT_MS,
  type Driver,
  type EventStore,
  type Executor,
  inTransaction,
  type Row,
  replicaDrivers,
  runCancellable,
  type Statement,
  type StoreOptions,
  sqlStateOf,
} from '@es/core';

/**
 * The node-postgres adapter: moves core's statements to a pool and rows back. Everything else (SQL,
 * routing, errors) lives in `@es/core`. The pool is described by the part of its shape the adapter uses,
 * so a `pg.Pool` and the pg-compatible pool of Neon's serverless driver both fit, and this package
 * needs nothing from `pg` at run time.
 */

/** A query as node-postgres takes it; with a `name`, pg prepares it once per connection. */
export interface PgQueryConfig {
  text: string;
  values: unknown[];
  name?: string;
}

/** The part of a pooled client (`pg.PoolClient`) the adapter uses. */
export interface PgPoolClientLike {
  query(config: PgQueryConfig): Promise<{ rows: Row[] }>;
  release(): void;
  on(event: 'error', listener: (error: Error) => void): unknown;
  removeListener(event: 'error', listener: (error: Error) => void): unknown;
}

/** The part of a node-postgres `Pool` the adapter uses. */
export interface PgPoolLike {
  readonly options: object;
  connect(): Promise<PgPoolClientLike>;
  on(event: 'error', listener: (error: Error) => void): unknown;
  listenerCount(event: 'error'): number;
}

/**
 * Prepares the statements whose plan may be reused (calls of the store's functions) under their name, and
 * sends everything else unnamed. A pooler that cannot keep prepared statements (PgBouncer before 1.21 in
 * transaction mode) answers that the statement does not exist, or exists already: the call then runs
 * unnamed, and so does every later one of this driver. Nothing has run when the server refuses so.
 */
class Preparing {
  #on = true;

  config(statement: Statement): PgQueryConfig {
    const config = { text: statement.text, values: [...statement.values] };
    return this.#on && statement.reusablePlan ? { ...config, name: statement.name } : config;
  }

  async run(statement: Statement, send: (config: PgQueryConfig) => Promise<{ rows: Row[] }>) {
    const config = this.config(statement);
    try {
      return await send(config);
    } catch (error) {
      if (config.name === undefined || !POOLER_REFUSALS.has(sqlStateOf(error) ?? '')) throw error;
      this.#on = false;
      return send(this.config(statement));
    }
  }
}

/** invalid_sql_statement_name, duplicate_prepared_statement: the session is not the one that prepared. */
const POOLER_REFUSALS = new Set(['26000', '42P05']);

/** pg's session key (from BackendKeyData), and the client class pg-pool keeps on every pool. */
type Keyed = { processID?: number | null; secretKey?: number | null };
type CancelSocket = {
  host: string;
  port: number;
  connection: {
    connect(portOrPath: number | string, host?: string): void;
    cancel(processID: number, secretKey: number): void;
    once(event: 'connect' | 'end' | 'error', listener: () => void): void;
  };
};
type WithClientClass = { Client?: new (options: object) => CancelSocket };

/**
 * Sends PostgreSQL's cancel request for the statement running on `client`, as psql does: on a new socket
 * (the pool may be exhausted) with the session's key, so it also works through PgBouncer. Resolves when
 * the server has closed that socket.
 */
function cancelOn(pool: PgPoolLike, client: PgPoolClientLike): Promise<void> {
  const { processID, secretKey } = client as Keyed;
  const { Client } = pool as WithClientClass;
  if (!processID || secretKey == null || !Client) return Promise.resolve();
  const { connection, host, port } = new Client(pool.options);
  return new Promise<void>((resolve) => {
    connection.once('connect', () => connection.cancel(processID, secretKey));
    connection.once('end', resolve);
    connection.once('error', resolve);
    if (host?.startsWith('/')) connection.connect(`${host}/.s.PGSQL.${port}`);
    else connection.connect(port, host);
  });
}

function executorFor(pool: PgPoolLike, client: PgPoolClientLike, preparing: Preparing): Executor {
  const send = (statement: Statement) => preparing.run(statement, (config) => client.query(config));
  return {
    query: (statement, options) =>
      options?.signal
        ? runCancellable(
            () => send(statement),
            () => cancelOn(pool, client),
            options.signal,
          )
        : send(statement),
  };
}

/**
 * Wraps a pool as a core `Driver`; `name` is what hooks report as the driver. A pool without a connect
 * timeout (`connectionTimeoutMillis` unset or 0: pg waits forever, and a server that accepts TCP but never
 * answers then holds the pool's slots for good) gets `connectTimeoutMs`, the store option.
 */
export function pgDriver(
  pool: PgPoolLike,
  name = 'pg',
  connectTimeoutMs = DEFAULT_CONNECT_TIMEOUT_MS,
): Driver {
  // An idle client whose server goes away emits 'error' on the pool; unhandled, it would crash the process.
  if (pool.listenerCount('error') === 0) pool.on('error', () => {});
  const poolOptions = pool.options as { connectionTimeoutMillis?: number };
  if (!poolOptions.connectionTimeoutMillis) poolOptions.connectionTimeoutMillis = connectTimeoutMs;
  const preparing = new Preparing();
  const withClient = async <T>(
    signal: AbortSignal | undefined,
    use: (client: PgPoolClientLike) => Promise<T>,
  ) => {
    const client = await acquireUnlessAborted(
      () => pool.connect(),
      (late) => late.release(),
      signal,
    );
    // A checked-out client whose connection breaks emits 'error' besides failing its query; unhandled,
    // that would crash the process (pg-pool listens only while a client is idle, or inside pool.query).
    // A session the server ends between two statements (a standby's FATAL "terminating connection due to
    // conflict with recovery", an admin's pg_terminate_backend) is told only through that event: the
    // next statement then fails with a bare "not queryable" error, so the server's error is kept for it.
    let ended: unknown;
    const broken = (error: unknown) => {
      ended ??= sqlStateOf(error) ? error : undefined;
    };
    client.on('error', broken);
    try {
      return await use(client);
    } catch (error) {
      throw ended !== undefined && sqlStateOf(error) === undefined ? ended : error;
    } finally {
      client.removeListener('error', broken);
      client.release();
    }
  };
  return {
    name,
    // Always on a client checked out here, not through pool.query: a failed checkout then tells that the
    // statement was never sent (an append that fails so is definite), and a broken session keeps its error.
    query: (statement, options) =>
      withClient(options?.signal, (client) => executorFor(pool, client, preparing).query(statement, options)),
    transaction: (fn) =>
      withClient(undefined, (client) => inTransaction(executorFor(pool, client, preparing), fn)),
  };
}

const driverOf = (pool: PgPoolLike | undefined, options: StoreOptions | undefined) =>
  pool ? pgDriver(pool, 'pg', options?.connectTimeoutMs) : undefined;

/** A store on one PostgreSQL server: every call goes to `pool` (a `pg.Pool`). */
export function fromPgPool(pool: PgPoolLike, options?: StoreOptions): EventStore {
  return createEventStore(driverOf(pool, options), undefined, options);
}

/**
 * A store on a primary and a replica (two `pg.Pool`s): strong reads, appends and migrations use
 * `primary`; eventual reads use `replica`. With `replica` undefined every call goes to the primary.
 */
export function fromPgPoolAndReplica(
  primary: PgPoolLike,
  replica: PgPoolLike | undefined,
  options?: StoreOptions,
): EventStore {
  return createEventStore(driverOf(primary, options), driverOf(replica, options), options);
}

/**
 * A store on a primary and several replicas (`pg.Pool`s): eventual reads spread over the replicas whose
 * circuit is closed, round-robin (see `replicaNames`, `replicaFallback`, `replicaTimeoutMs`); strong
 * reads, appends and migrations use `primary`. With no replica every call goes to the primary.
 */
export function fromPgPoolAndReplicas(
  primary: PgPoolLike,
  replicas: readonly PgPoolLike[],
  options?: StoreOptions,
): EventStore {
  return createEventStore(
    driverOf(primary, options),
    replicaDrivers(replicas, (replica) => driverOf(replica, options)),
    options,
  );
}
