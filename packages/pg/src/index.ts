import {
  acquireUnlessAborted,
  createEventStore,
  type Driver,
  type EventStore,
  type Executor,
  inTransaction,
  type Row,
  runCancellable,
  type Statement,
  type StoreOptions,
} from '@es/core';

/**
 * The node-postgres adapter: moves core's statements to a pool and rows back. Everything else (SQL,
 * routing, errors) lives in `@es/core`. The pool is described by the part of its shape the adapter uses,
 * so a `pg.Pool` and the pg-compatible pool of Neon's serverless driver both fit, and this package
 * needs nothing from `pg` at run time.
 */

/** The part of a pooled client (`pg.PoolClient`) the adapter uses. */
export interface PgPoolClientLike {
  query(config: { text: string; values: unknown[] }): Promise<{ rows: Row[] }>;
  release(): void;
}

/** The part of a node-postgres `Pool` the adapter uses. */
export interface PgPoolLike {
  readonly options: object;
  query(config: { text: string; values: unknown[] }): Promise<{ rows: Row[] }>;
  connect(): Promise<PgPoolClientLike>;
  on(event: 'error', listener: (error: Error) => void): unknown;
  listenerCount(event: 'error'): number;
}

const toConfig = (statement: Statement) => ({ text: statement.text, values: [...statement.values] });

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

function executorFor(pool: PgPoolLike, client: PgPoolClientLike): Executor {
  return {
    query: (statement, options) =>
      options?.signal
        ? runCancellable(
            () => client.query(toConfig(statement)),
            () => cancelOn(pool, client),
            options.signal,
          )
        : client.query(toConfig(statement)),
  };
}

/** Wraps a pool as a core `Driver`; `name` is what hooks report as the driver. */
export function pgDriver(pool: PgPoolLike, name = 'pg'): Driver {
  // An idle client whose server goes away emits 'error' on the pool; unhandled, it would crash the process.
  if (pool.listenerCount('error') === 0) pool.on('error', () => {});
  const withClient = async <T>(
    signal: AbortSignal | undefined,
    use: (client: PgPoolClientLike) => Promise<T>,
  ) => {
    const client = await acquireUnlessAborted(
      () => pool.connect(),
      (late) => late.release(),
      signal,
    );
    try {
      return await use(client);
    } finally {
      client.release();
    }
  };
  return {
    name,
    query: (statement, options) =>
      options?.signal
        ? withClient(options.signal, (client) => executorFor(pool, client).query(statement, options))
        : pool.query(toConfig(statement)),
    transaction: (fn) => withClient(undefined, (client) => inTransaction(executorFor(pool, client), fn)),
  };
}

const driverOf = (pool: PgPoolLike | undefined) => (pool ? pgDriver(pool) : undefined);

/** A store on one PostgreSQL server: every call goes to `pool` (a `pg.Pool`). */
export function fromPgPool(pool: PgPoolLike, options?: StoreOptions): EventStore {
  return createEventStore(driverOf(pool), undefined, options);
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
  return createEventStore(driverOf(primary), driverOf(replica), options);
}
