import {
  acquireUnlessAborted,
  createEventStore,
  type Driver,
  type EventStore,
  type Executor,
  runCancellable,
  type Statement,
  type StoreOptions,
  TRANSACTION_STATEMENTS,
} from '@es/core';
import pg from 'pg';

/**
 * The node-postgres adapter: moves core's statements to a `pg.Pool` and rows back. Everything else
 * (SQL, routing, errors) lives in `@es/core`.
 */

const toConfig = (statement: Statement) => ({ text: statement.text, values: [...statement.values] });

/** What a checked-out client knows about its server session (pg sets these from BackendKeyData). */
type SessionKeys = { processID?: number | null; secretKey?: number | null };
/** The parts of pg's Client used to send a protocol-level cancel request. */
type Canceller = pg.Client & {
  host: string;
  port: number;
  connection: {
    connect(portOrPath: number | string, host?: string): void;
    cancel(processID: number, secretKey: number): void;
    once(event: 'connect' | 'end' | 'error', listener: () => void): void;
  };
};

/**
 * Sends PostgreSQL's cancel request for the statement running on `client`, the way `psql` does: on a new
 * socket (the pool may be exhausted), with the session's secret key, so it also works through PgBouncer
 * and never needs a second authenticated session. Resolves when the server has closed that socket.
 */
function cancelOn(pool: pg.Pool, client: pg.PoolClient): Promise<void> {
  const { processID, secretKey } = client as pg.PoolClient & SessionKeys;
  if (!processID || secretKey == null) return Promise.resolve();
  const { connection, host, port } = new pg.Client(pool.options) as Canceller;
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
  const checkout = (signal?: AbortSignal) =>
    acquireUnlessAborted(
      () => pool.connect(),
      (client) => client.release(),
      signal,
    );
  return {
    name: 'pg',
    async query(statement, options) {
      if (!options?.signal) return pool.query(toConfig(statement));
      const client = await checkout(options.signal);
      try {
        return await executorFor(pool, client).query(statement, options);
      } finally {
        client.release();
      }
    },
    async transaction(fn) {
      const client = await checkout();
      const tx = executorFor(pool, client);
      try {
        await tx.query(TRANSACTION_STATEMENTS.begin);
        const result = await fn(tx);
        await tx.query(TRANSACTION_STATEMENTS.commit);
        return result;
      } catch (error) {
        await tx.query(TRANSACTION_STATEMENTS.rollback).catch(() => {});
        throw error;
      } finally {
        client.release();
      }
    },
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
