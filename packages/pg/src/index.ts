import {
  acquireUnlessAborted,
  cancelBackendStatement,
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

/** Cancels what runs on `client` from a fresh connection (not the pool: it may be exhausted). */
async function cancelOn(pool: pg.Pool, client: pg.PoolClient): Promise<void> {
  const processId = (client as pg.PoolClient & { processID?: number }).processID;
  if (!processId) return;
  const canceller = new pg.Client(pool.options);
  canceller.on('error', () => {});
  try {
    await canceller.connect();
    await canceller.query(toConfig(cancelBackendStatement(processId)));
  } finally {
    await canceller.end().catch(() => {});
  }
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
