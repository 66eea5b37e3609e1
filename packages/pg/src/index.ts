import { createEventStore, type Driver, type EventStore, type Executor, type Statement, type StoreOptions, TRANSACTION_STATEMENTS } from '@es/core';
import pg from 'pg';

/**
 * The node-postgres adapter: moves core's statements to a `pg.Pool` and rows back. Everything else
 * (SQL, routing, errors) lives in `@es/core`.
 */

type Cancellable = pg.PoolClient & { processID: number | null };

/** Runs one statement on a checked-out client; an abort sends PostgreSQL's cancel request for it. */
function runCancellable(pool: pg.Pool, client: pg.PoolClient, statement: Statement, signal: AbortSignal) {
  return new Promise<{ rows: Record<string, string | null>[] }>((resolve, reject) => {
    const query = new pg.Query(statement.text, [...statement.values], (error: Error | undefined, result: pg.QueryResult) => {
      signal.removeEventListener('abort', cancel);
      if (error) reject(error);
      else resolve(result);
    });
    // A cancel request travels on a fresh socket, so it works even when the pool is exhausted.
    const cancel = () => (new pg.Client(pool.options) as pg.Client & { cancel(c: Cancellable, q: pg.Query): void }).cancel(client as Cancellable, query);
    signal.addEventListener('abort', cancel, { once: true });
    client.query(query);
  });
}

function executorFor(pool: pg.Pool, client: pg.PoolClient): Executor {
  return {
    query: (statement, options) =>
      options?.signal
        ? runCancellable(pool, client, statement, options.signal)
        : client.query({ text: statement.text, values: [...statement.values] }),
  };
}

/** Wraps a pool as a core `Driver`. */
export function pgDriver(pool: pg.Pool): Driver {
  // An idle client whose server goes away emits 'error' on the pool; unhandled, it would crash the process.
  if (pool.listenerCount('error') === 0) pool.on('error', () => {});
  return {
    name: 'pg',
    async query(statement, options) {
      if (!options?.signal) return pool.query({ text: statement.text, values: [...statement.values] });
      const client = await pool.connect();
      try {
        return await executorFor(pool, client).query(statement, options);
      } finally {
        client.release();
      }
    },
    async transaction(fn) {
      const client = await pool.connect();
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
export function fromPgPoolAndReplica(primary: pg.Pool, replica: pg.Pool | undefined, options?: StoreOptions): EventStore {
  return createEventStore(primary ? pgDriver(primary) : undefined, replica ? pgDriver(replica) : undefined, options);
}
