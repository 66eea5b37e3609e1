import {
  createEventStore,
  type Driver,
  type EventStore,
  InvalidConfigurationError,
  replicaDrivers,
  type StoreOptions,
} from '@es/core';
import { type PgPoolLike, pgDriver } from '@es/pg';
import { type PostgresJsLike, postgresJsDriver } from '@es/postgresjs';

/**
 * The Drizzle ORM adapter. A drizzle instance is a query builder over a driver client (`db.$client`); the
 * store runs on that client through the driver's own adapter (`@es/pg` for pools, `@es/postgresjs` for a
 * postgres.js `sql`), so cancellation, transactions and errors behave exactly as they do there. Nothing
 * from drizzle or a driver is imported at run time: the flavour is read from drizzle's entity tag and the
 * client's shape.
 */

/**
 * A drizzle PostgreSQL instance, as the adapter sees it. `withReplicas()` wrappers (which have `$primary`
 * and `$replicas`) are refused: pass `db.$primary` and a plain replica instance instead.
 */
export interface DrizzleDatabaseLike {
  /** The driver client drizzle was built on (`drizzle({ client })`). */
  readonly $client: unknown;
  /** Present on `withReplicas()` wrappers only, which this adapter refuses. */
  readonly $primary?: never;
  /** Present on `withReplicas()` wrappers only, which this adapter refuses. */
  readonly $replicas?: never;
}

type Role = 'primary' | 'replica';
type Shape = Record<string | symbol, unknown>;

/** The tag drizzle puts on each of its classes (what its own `is()` reads). */
const entityKind = Symbol.for('drizzle:entityKind');
const POOL_FLAVOURS: Readonly<Record<string, string>> = {
  NodePgDatabase: 'node-postgres',
  NeonServerlessDatabase: 'neon-serverless',
};
const SUPPORTED =
  'drizzle-orm/node-postgres or drizzle-orm/neon-serverless over a Pool, or drizzle-orm/postgres-js';

const hasMethods = (value: unknown, ...names: string[]): value is Shape =>
  (typeof value === 'object' || typeof value === 'function') &&
  value !== null &&
  names.every((name) => typeof (value as Shape)[name] === 'function');

/** The core driver for one drizzle instance; `undefined` stays undefined (core reports a missing primary). */
function driverFor(db: DrizzleDatabaseLike | undefined, role: Role): Driver | undefined {
  if (db == null) return undefined;
  if (typeof db !== 'object' && typeof db !== 'function') {
    throw new InvalidConfigurationError(
      `drizzle adapter: the ${role} is not a drizzle instance; use ${SUPPORTED}`,
    );
  }
  if ('$primary' in db || '$replicas' in db) {
    throw new InvalidConfigurationError(
      `drizzle adapter: the ${role} is a withReplicas() wrapper, whose raw SQL always runs on its primary. ` +
        'Use fromDrizzleAndReplica(db.$primary, replica) with a plain drizzle instance as the replica',
    );
  }
  const kind = String((db.constructor as unknown as Shape | undefined)?.[entityKind] ?? 'an unknown object');
  const client = db.$client;
  // postgres.js's adapter refuses a reserved connection or a transaction itself, with its reason.
  if (kind === 'PostgresJsDatabase' && hasMethods(client, 'unsafe')) {
    return postgresJsDriver(client as unknown as PostgresJsLike, 'drizzle:postgres-js');
  }
  const flavour = POOL_FLAVOURS[kind];
  if (flavour && hasMethods(client, 'connect', 'query', 'on') && typeof client.totalCount === 'number') {
    return pgDriver(client as unknown as PgPoolLike, `drizzle:${flavour}`);
  }
  if (flavour && hasMethods(client, 'connect', 'query')) {
    throw new InvalidConfigurationError(
      `drizzle adapter: the ${role} runs on a single Client; build it on a Pool (drizzle({ client: pool })): ` +
        'one connection cannot serve a strong read while an append holds it, nor be cancelled safely',
    );
  }
  throw new InvalidConfigurationError(
    `drizzle adapter: the ${role} (${kind}) is not supported; use ${SUPPORTED}`,
  );
}

/** A store on one PostgreSQL server: every call goes to the client of `db`, a drizzle instance. */
export function fromDrizzle(db: DrizzleDatabaseLike, options?: StoreOptions): EventStore {
  return createEventStore(driverFor(db, 'primary'), undefined, options);
}

/**
 * A store on a primary and a replica, two plain drizzle instances: strong reads, appends and migrations
 * use `primary`; eventual reads use `replica`. With `replica` undefined every call goes to the primary.
 */
export function fromDrizzleAndReplica(
  primary: DrizzleDatabaseLike,
  replica: DrizzleDatabaseLike | undefined,
  options?: StoreOptions,
): EventStore {
  return createEventStore(driverFor(primary, 'primary'), driverFor(replica, 'replica'), options);
}

/**
 * A store on a primary and several replicas, plain drizzle instances: eventual reads spread over the
 * healthy replicas (as `fromPgPoolAndReplicas` in `@es/pg`), everything else uses `primary`.
 */
export function fromDrizzleAndReplicas(
  primary: DrizzleDatabaseLike,
  replicas: readonly DrizzleDatabaseLike[],
  options?: StoreOptions,
): EventStore {
  return createEventStore(
    driverFor(primary, 'primary'),
    replicaDrivers(replicas, (replica) => driverFor(replica, 'replica')),
    options,
  );
}
