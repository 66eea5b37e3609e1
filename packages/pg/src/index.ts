import {
  acquireUnlessAborted,
  createEventStore,
  type Driver,
  type EventStore,
  type Executor,
  inTransaction,
  runCancellable,
  type Statement,
  type StoreOptions,
} from '@es/core';
import pg from 'pg';

/**
 * The node-postgres adapter: moves core's statements to a `pg.Pool` and rows back. Everything else
 * (SQL, routing, errors) lives in `@es/core`.
 */

const toConfig = (statement: Statement) => ({ text: statement.text, values: [...statement.values] });

/** pg's session key (from BackendKeyData) and the connection a fresh Client would open. */
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

/**
 * Sends PostgreSQL's cancel request for the statement running on `client`, as psql does: on a new socket
 * (the pool may be exhausted) with the session's key, so it also works through PgBouncer. Resolves when
 * the server has closed that socket.
 */
function cancelOn(pool: pg.Pool, client: pg.PoolClient): Promise<void> {
  const { processID, secretKey } = client as pg.PoolClient & Keyed;
  if (!processID || secretKey == null) return Promise.resolve();
  const { connection, host, port } = new pg.Client(pool.options) as pg.Client & CancelSocket;
  return new Promise<void>((resolve) => {
    connection.once('connect', () => connection.cancel(processID, secretKey));
    connection.once('end', resolve);
    connection.once('error', resolve);
    if (host?.startsWith('/')) connection.connect(`${host}/.s.PGSQL.${port}`);
    else connection.connect(port, host);
  });
}

function executorFor(pool: pg.Pool, client: pg.PoolClient): Executor {
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

/** Wraps a pool as a core `Driver`. */
export function pgDriver(pool: pg.Pool): Driver {
  // An idle client whose server goes away emits 'error' on the pool; unhandled, it would crash the process.
  if (pool.listenerCount('error') === 0) pool.on('error', () => {});
  const withClient = async <T>(
    signal: AbortSignal | undefined,
    use: (client: pg.PoolClient) => Promise<T>,
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
    name: 'pg',
    query: (statement, options) =>
      options?.signal
        ? withClient(options.signal, (client) => executorFor(pool, client).query(statement, options))
        : pool.query(toConfig(statement)),
    transaction: (fn) => withClient(undefined, (client) => inTransaction(executorFor(pool, client), fn)),
  };
}

/** A store on one PostgreSQL server: every call goes to `pool`. */
export function fromPgPool(pool: pg.Pool, options?: StoreOptions): EventStore {
  return createEventStore(pool ? pgDriver(pool) : undefined, undefined, options);
}

/**
 * A store on a primary and a replica: strong reads, appends and migrations use `primary`; eventual reads
 * use `replica`. With `replica` undefined every call goes to the primary.
 */
export function fromPgPoolAndReplica(
  primary: pg.Pool,
  replica: pg.Pool | undefined,
  options?: StoreOptions,
): EventStore {
  return createEventStore(
    primary ? pgDriver(primary) : undefined,
    replica ? pgDriver(replica) : undefined,
    options,
  );
}
