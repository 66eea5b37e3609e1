import {
  createEventStore,
  type Driver,
  type EventStore,
  InvalidConfigurationError,
  type Row,
  replicaDrivers,
  type StoreOptions,
} from '@es/core';
import { type PgPoolLike, pgDriver } from '@es/pg';

/**
 * The adapter for Neon's serverless driver (`@neondatabase/serverless`), in both of its flavours:
 * - the WebSocket `Pool`, which is node-postgres over a WebSocket: it runs through `@es/pg`'s driver
 *   unchanged (transactions, PostgreSQL's cancel request, everything);
 * - the HTTP query function `neon()`: one statement per HTTP request, no interactive transactions.
 * SQL, routing and error mapping live in `@es/core`.
 */

/**
 * The part of Neon's `Pool` the adapter uses: the node-postgres pool shape (`query`, `connect`,
 * `options`, the `'error'` event, and the `Client` class it keeps, used to send cancel requests).
 */
export type NeonPoolLike = PgPoolLike;

/** A store on one Neon database through a WebSocket `Pool`: every call goes to `pool`. */
export function fromNeonPool(pool: NeonPoolLike, options?: StoreOptions): EventStore {
  return createEventStore(
    pool ? pgDriver(pool, 'neon', options?.connectTimeoutMs) : undefined,
    undefined,
    options,
  );
}

/**
 * A store on a primary and a read replica (two WebSocket `Pool`s): strong reads, appends and
 * migrations use `primary`; eventual reads use `replica`. With `replica` undefined every call goes to
 * the primary.
 */
export function fromNeonPoolAndReplica(
  primary: NeonPoolLike,
  replica: NeonPoolLike | undefined,
  options?: StoreOptions,
): EventStore {
  return createEventStore(
    primary ? pgDriver(primary, 'neon', options?.connectTimeoutMs) : undefined,
    replica ? pgDriver(replica, 'neon', options?.connectTimeoutMs) : undefined,
    options,
  );
}

/**
 * A store on a primary and several read replicas (Neon `Pool`s), routed as `fromPgPoolAndReplicas` in
 * `@es/pg`: eventual reads spread over the healthy replicas, everything else uses `primary`.
 */
export function fromNeonPoolAndReplicas(
  primary: NeonPoolLike,
  replicas: readonly NeonPoolLike[],
  options?: StoreOptions,
): EventStore {
  const driverOf = (pool: NeonPoolLike) =>
    pool ? pgDriver(pool, 'neon', options?.connectTimeoutMs) : undefined;
  return createEventStore(driverOf(primary), replicaDrivers(replicas, driverOf), options);
}

/** The part of the HTTP query function returned by `neon(url)` the adapter uses: `sql.query()`. */
export interface NeonHttpLike {
  query(
    text: string,
    params: (string | null)[],
    options: { arrayMode: false; fullResults: true; fetchOptions?: { signal: AbortSignal } },
  ): Promise<{ rows: Row[] }>;
}

/** Why a call that needs an interactive transaction cannot run over HTTP, and what to do instead. */
const NO_TRANSACTIONS_OVER_HTTP =
  "Neon's HTTP query function cannot run interactive transactions. migrate() needs one: run it once, at " +
  'deploy, on a store built with fromNeonPool() on the same database. Queries and appends need one only ' +
  "when the role's or database's default_transaction_isolation is not 'read committed' (the guard " +
  "needs READ COMMITTED): set it to 'read committed' for the role the store connects as";

/** Wraps an HTTP query function as a core `Driver`; `transaction` is refused (see NO_TRANSACTIONS_OVER_HTTP). */
function neonHttpDriver(sql: NeonHttpLike): Driver {
  return {
    name: 'neon-http',
    // Aborting the fetch settles the call before the proxy has cancelled the statement: core therefore
    // never gives an append a signal, and the append reports what the database did.
    settlesAfterCancel: false,
    interactiveTransactions: false,
    query: async (statement, options) => {
      const { rows } = await sql.query(statement.text, [...statement.values], {
        arrayMode: false,
        fullResults: true,
        // Aborting the fetch closes the request; Neon's proxy then cancels the statement on the server.
        ...(options?.signal && { fetchOptions: { signal: options.signal } }),
      });
      return { rows };
    },
    transaction: () => Promise.reject(new InvalidConfigurationError(NO_TRANSACTIONS_OVER_HTTP)),
  };
}

/**
 * A store on one Neon database through the HTTP query function `sql = neon(url)`: each query and
 * each append is one HTTP request. `migrate()` rejects with `InvalidConfigurationError`: migrate
 * through `fromNeonPool` once, at deploy.
 */
export function fromNeonHttp(sql: NeonHttpLike, options?: StoreOptions): EventStore {
  return createEventStore(sql ? neonHttpDriver(sql) : undefined, undefined, options);
}

/**
 * A store on a primary and a read replica through two HTTP query functions (`neon(primaryUrl)`,
 * `neon(replicaUrl)`), routed as `fromNeonPoolAndReplica`. `migrate()` rejects, as in `fromNeonHttp`.
 */
export function fromNeonHttpAndReplica(
  primary: NeonHttpLike,
  replica: NeonHttpLike | undefined,
  options?: StoreOptions,
): EventStore {
  return createEventStore(
    primary ? neonHttpDriver(primary) : undefined,
    replica ? neonHttpDriver(replica) : undefined,
    options,
  );
}

/**
 * A store on a primary and several read replicas through HTTP query functions, routed as
 * `fromNeonPoolAndReplicas`. `migrate()` rejects, as in `fromNeonHttp`.
 */
export function fromNeonHttpAndReplicas(
  primary: NeonHttpLike,
  replicas: readonly NeonHttpLike[],
  options?: StoreOptions,
): EventStore {
  const driverOf = (sql: NeonHttpLike) => (sql ? neonHttpDriver(sql) : undefined);
  return createEventStore(driverOf(primary), replicaDrivers(replicas, driverOf), options);
}
