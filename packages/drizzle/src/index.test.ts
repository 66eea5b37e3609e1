import { buildEventFilter, isEventStoreError, type OperationReport, withStrongConsistency } from '@es/core';
import { Client as NeonClient, Pool as NeonPool, neon } from '@neondatabase/serverless';
import { drizzle as drizzleNeonHttp } from 'drizzle-orm/neon-http';
import { drizzle as drizzleNeon } from 'drizzle-orm/neon-serverless';
import { drizzle as drizzleNodePg } from 'drizzle-orm/node-postgres';
import { withReplicas } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePostgresJs } from 'drizzle-orm/postgres-js';
import pg from 'pg';
import postgres from 'postgres';
import { afterEach, describe, expect, test } from 'vitest';
import { type DrizzleDatabaseLike, fromDrizzle, fromDrizzleAndReplica } from './index.js';

// Nothing here reaches a database: the pools point at a closed loopback port and are never queried,
// except where a test wants the failed call's report (the connection is refused at once).
const CLOSED = { host: '127.0.0.1', port: 1, connectionTimeoutMillis: 1000 };
const pools: { end(): Promise<void> }[] = [];

function pgPool(): pg.Pool {
  const pool = new pg.Pool(CLOSED);
  pool.on('error', () => {});
  pools.push(pool);
  return pool;
}

function sql(options: postgres.Options<Record<string, postgres.PostgresType>> = {}): postgres.Sql {
  const instance = postgres({ host: CLOSED.host, port: CLOSED.port, connect_timeout: 1, ...options });
  pools.push({ end: () => instance.end({ timeout: 1 }) });
  return instance;
}

afterEach(async () => {
  await Promise.all(pools.splice(0).map((pool) => pool.end()));
});

/** The error a factory threw synchronously, checked to be core's InvalidConfigurationError. */
function refusal(build: () => unknown): string {
  try {
    build();
  } catch (error) {
    expect(isEventStoreError(error, 'INVALID_CONFIGURATION')).toBe(true);
    return (error as Error).message;
  }
  throw new Error('the factory accepted the instance');
}

/** The driver name the store reports for a strong query (which fails: nothing listens on the port). */
async function reportedDriver(db: DrizzleDatabaseLike): Promise<string | undefined> {
  const reports: OperationReport[] = [];
  const store = fromDrizzle(db, { hooks: { onOperation: (report) => reports.push(report) } });
  await expect(store.query(withStrongConsistency(), buildEventFilter().matchingAnyEvent())).rejects.toThrow();
  return reports[0]?.driver;
}

describe('fromDrizzle / fromDrizzleAndReplica', () => {
  test('accept node-postgres and neon-serverless instances over a Pool, and postgres-js instances', () => {
    const primary = drizzleNodePg({ client: pgPool() });
    const replica = drizzleNeon({ client: new NeonPool(CLOSED) });
    expect(fromDrizzle(primary).tableName).toContain('events');
    expect(fromDrizzleAndReplica(primary, replica).tableName).toContain('events');
    expect(fromDrizzleAndReplica(drizzlePostgresJs({ client: sql() }), primary).tableName).toContain(
      'events',
    );
    expect(fromDrizzleAndReplica(primary, undefined).tableName).toContain('events');
  });

  test('name the flavour as the driver in operation reports', async () => {
    expect(await reportedDriver(drizzleNodePg({ client: pgPool() }))).toBe('drizzle:node-postgres');
    const neonPool = new NeonPool(CLOSED);
    pools.push(neonPool);
    expect(await reportedDriver(drizzleNeon({ client: neonPool }))).toBe('drizzle:neon-serverless');
    expect(await reportedDriver(drizzlePostgresJs({ client: sql() }))).toBe('drizzle:postgres-js');
  });

  test('refuse a missing primary through core', () => {
    expect(refusal(() => fromDrizzle(undefined as never))).toMatch(/primary database is required/);
  });

  test('refuse a withReplicas() wrapper, as primary or replica, and say what to pass instead', () => {
    const wrapper = withReplicas(drizzleNodePg({ client: pgPool() }), [drizzleNodePg({ client: pgPool() })]);
    const plain = drizzleNodePg({ client: pgPool() });
    // @ts-expect-error the types refuse a withReplicas() wrapper too
    const message = refusal(() => fromDrizzle(wrapper));
    expect(message).toMatch(/withReplicas\(\)/);
    expect(message).toMatch(/db\.\$primary/);
    // @ts-expect-error the types refuse a withReplicas() wrapper too
    expect(refusal(() => fromDrizzleAndReplica(wrapper, plain))).toMatch(/primary is a withReplicas/);
    // @ts-expect-error the types refuse a withReplicas() wrapper too
    expect(refusal(() => fromDrizzleAndReplica(plain, wrapper))).toMatch(/replica is a withReplicas/);
    // The right way: the wrapper's primary and a plain replica instance.
    expect(fromDrizzleAndReplica(wrapper.$primary, plain).tableName).toContain('events');
  });

  test('refuse an instance over a single Client (node-postgres or Neon)', () => {
    const client = new pg.Client(CLOSED);
    expect(refusal(() => fromDrizzle(drizzleNodePg({ client })))).toMatch(/single Client.*Pool/);
    expect(refusal(() => fromDrizzle(drizzleNeon({ client: new NeonClient(CLOSED) })))).toMatch(
      /single Client/,
    );
    const pooled = drizzleNodePg({ client: pgPool() });
    expect(refusal(() => fromDrizzleAndReplica(pooled, drizzleNodePg({ client })))).toMatch(
      /replica runs on a single Client/,
    );
  });

  test("pass on @es/postgresjs's refusals of a postgres.js client it cannot use", () => {
    const camel = drizzlePostgresJs({ client: sql({ transform: postgres.camel }) });
    expect(refusal(() => fromDrizzle(camel))).toMatch(/^postgres\.js: .*transform/);
  });

  test('refuse other flavours and unknown objects, naming what is supported', () => {
    const supported =
      /node-postgres or drizzle-orm\/neon-serverless over a Pool, or drizzle-orm\/postgres-js/;
    const http = drizzleNeonHttp({ client: neon('postgres://user@127.0.0.1:1/db') });
    expect(refusal(() => fromDrizzle(http))).toMatch(/NeonHttpDatabase/);
    expect(refusal(() => fromDrizzle(http))).toMatch(supported);
    expect(refusal(() => fromDrizzle(drizzleNodePg.mock()))).toMatch(supported);
    expect(refusal(() => fromDrizzle({ $client: pgPool() }))).toMatch(/an unknown object/);
    expect(refusal(() => fromDrizzle(pgPool() as never))).toMatch(supported);
    expect(refusal(() => fromDrizzle('postgres://u@h/db' as never))).toMatch(/not a drizzle instance/);
  });
});
