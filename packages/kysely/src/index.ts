import {
  acquireUnlessAborted,
  backendPidStatement,
  cancelBackendStatement,
  createEventStore,
  type Driver,
  type EventStore,
  InvalidConfigurationError,
  type Row,
  replicaDrivers,
  runCancellable,
  type Statement,
  type StoreOptions,
} from '@es/core';
import { CompiledQuery, type DatabaseConnection, type Kysely } from 'kysely';

/**
 * The Kysely adapter: moves core's statements through a `Kysely` instance on any PostgreSQL dialect
 * (`PostgresDialect` over `pg`, `kysely-postgres-js`, ...). SQL, routing and errors live in `@es/core`.
 */

/** Anything that runs a compiled query: a plugin-free `Kysely`, a `Transaction`, a pinned connection. */
type Runner = { executeQuery<R>(query: CompiledQuery<R>): Promise<{ rows: R[] }> };

// Core's statements are raw compiled queries: no plugin may rewrite them or rename their result columns.
const run = (runner: Runner, statement: Statement): Promise<{ rows: Row[] }> =>
  runner.executeQuery<Row>(CompiledQuery.raw(statement.text, [...statement.values]));

type Lease = { connection: DatabaseConnection; release: () => void };

/**
 * Checks out one connection and holds it until `release`: what `db.connection().execute(cb)` does, but that
 * hands `cb` a new `Kysely` per call, while the connection object (the pid cache's key) is only reachable
 * through `getExecutor()`, the member Kysely's own `sql\`...\`.execute(db)` relies on.
 */
const lease = <DB>(db: Kysely<DB>) =>
  new Promise<Lease>((resolve, reject) => {
    db.getExecutor()
      .provideConnection((connection) => new Promise<void>((release) => resolve({ connection, release })))
      .catch(reject);
  });

/** Backend pid per connection object: the pg dialect reuses one object per pooled client, so it is read once. */
const pids = new WeakMap<DatabaseConnection, string>();

/**
 * Runs `statement` on a connection of its own so that an abort can cancel it on the server: Kysely has no
 * AbortSignal support, so the cancel is `pg_cancel_backend(pid)` sent through another pooled connection.
 */
async function runCancellableOn<DB>(db: Kysely<DB>, statement: Statement, signal: AbortSignal) {
  // A connection that arrives after the abort is released without running anything.
  const { connection, release } = await acquireUnlessAborted(
    () => lease(db),
    (late) => late.release(),
    signal,
  );
  try {
    let pid = pids.get(connection);
    if (pid === undefined) {
      pid = (await run(connection, backendPidStatement())).rows[0]?.pid ?? '';
      if (pid) pids.set(connection, pid);
    }
    const cancel = async () => {
      if (pid) await run(db, cancelBackendStatement(pid));
    };
    return await runCancellable(() => run(connection, statement), cancel, signal);
  } finally {
    release();
  }
}

/** Wraps a `Kysely` instance as a core `Driver`; `name` is what hooks report as the driver. */
export function kyselyDriver<DB>(db: Kysely<DB>, name = 'kysely'): Driver {
  if (db.isTransaction) {
    throw new InvalidConfigurationError('pass a Kysely instance, not a transaction: the store runs its own');
  }
  const plain = db.withoutPlugins();
  return {
    name,
    // The dialect's connection library is unknown here (postgres.js loses a session ended while idle in a
    // transaction, see core's Driver): streams read keyset pages on every dialect.
    cursorStreams: false,
    query: (statement, options) =>
      options?.signal ? runCancellableOn(plain, statement, options.signal) : run(plain, statement),
    // Kysely's own transaction: it checks COMMIT's outcome and discards a connection whose ROLLBACK failed.
    transaction: (fn) =>
      plain.transaction().execute((trx) => fn({ query: (statement) => run(trx, statement) })),
  };
}

/** A store on one PostgreSQL server: every call goes to `db`. */
export function fromKysely<DB>(db: Kysely<DB>, options?: StoreOptions): EventStore {
  return createEventStore(db ? kyselyDriver(db) : undefined, undefined, options);
}

/**
 * A store on a primary and a replica, two plain `Kysely` instances (not one built with kysely-replication:
 * its dialect sends raw SQL to the primary). Strong reads, appends and migrations use `primary`; eventual
 * reads use `replica`. With `replica` undefined every call goes to the primary.
 */
export function fromKyselyAndReplica<DB, RDB = DB>(
  primary: Kysely<DB>,
  replica: Kysely<RDB> | undefined,
  options?: StoreOptions,
): EventStore {
  return createEventStore(
    primary ? kyselyDriver(primary) : undefined,
    replica ? kyselyDriver(replica) : undefined,
    options,
  );
}

/**
 * A store on a primary and several replicas, plain `Kysely` instances: eventual reads spread over the
 * healthy replicas (as `fromPgPoolAndReplicas` in `@es/pg`), everything else uses `primary`.
 */
export function fromKyselyAndReplicas<DB, RDB = DB>(
  primary: Kysely<DB>,
  replicas: readonly Kysely<RDB>[],
  options?: StoreOptions,
): EventStore {
  return createEventStore(
    primary ? kyselyDriver(primary) : undefined,
    replicaDrivers(replicas, (replica) => (replica ? kyselyDriver(replica) : undefined)),
    options,
  );
}
