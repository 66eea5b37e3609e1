import { ConnectionFailedError, type Statement, toEventStoreError } from '@es/core';
import { type Cluster, startCluster } from '@es/testing';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresJsDriver } from '../src/index.js';

/**
 * The driver against a real server, for what the conformance suite does not reach: how values travel with
 * and without prepared statements, and a connection that dies under a reserved call or a transaction
 * (postgres.js 3.4.9 crashes the process if a closed reserved connection is written to or released).
 */

const statement = (text: string, ...values: (string | null)[]): Statement => ({ name: 'test', text, values });
const APP = 'es-postgresjs-driver-test';

let cluster: Cluster;
let admin: postgres.Sql;
const opened: postgres.Sql[] = [];

beforeAll(async () => {
  cluster = await startCluster();
  admin = open({ max: 1, connection: { application_name: `${APP} (admin)` } });
});

afterAll(async () => {
  await Promise.all(opened.map((sql) => sql.end({ timeout: 5 })));
  await cluster?.stop();
});

function open(options: { max?: number; prepare?: boolean; connection?: object } = {}): postgres.Sql {
  const sql = postgres(cluster.primaryUrl, {
    connect_timeout: 5,
    onnotice: () => {},
    connection: { application_name: APP },
    ...options,
  });
  opened.push(sql);
  return sql;
}

/** Terminates the backend that runs the test's `pg_sleep`, once it is seen running. */
async function terminateRunning(): Promise<void> {
  for (let attempt = 0; attempt < 500; attempt++) {
    const rows = await admin`
      SELECT pg_terminate_backend(pid) AS done FROM pg_stat_activity
      WHERE application_name = ${APP} AND state = 'active' AND query LIKE 'SELECT pg_sleep(30)%'`;
    if (rows.length > 0) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error('no backend was seen running pg_sleep');
}

/** Kills the backend under `call` while it runs; the call must fail with a connection error. */
async function expectConnectionLoss(call: Promise<unknown>): Promise<void> {
  const outcome = call.then(
    () => 'succeeded',
    (reason: unknown) => reason,
  );
  await terminateRunning();
  expect(toEventStoreError('test', 'primary', await outcome)).toBeInstanceOf(ConnectionFailedError);
}

/**
 * Every way of running a statement works on `sql` afterwards, more times than it has connections, the
 * first one included: postgres.js 3.4.9 rejects the first query of the reconnected connection with the
 * terminated session's FATAL error (57P01), and the driver sends that query again.
 */
async function expectUsable(sql: postgres.Sql): Promise<void> {
  const driver = postgresJsDriver(sql);
  expect((await driver.query(statement('SELECT 1::text AS one'))).rows).toEqual([{ one: '1' }]);
  for (let round = 0; round < 3; round++) {
    const select = statement('SELECT $1::text AS value', String(round));
    expect((await driver.query(select)).rows).toEqual([{ value: String(round) }]);
    const signal = new AbortController().signal;
    expect((await driver.query(select, { signal })).rows).toEqual([{ value: String(round) }]);
    expect((await driver.transaction((tx) => tx.query(select))).rows).toEqual([{ value: String(round) }]);
  }
}

describe('postgres.js driver on a real server', () => {
  for (const prepare of [true, false]) {
    it(`values arrive as the text core sent, whatever the cast (prepare: ${prepare}, 7 runs)`, async () => {
      const sql = open({ max: 1, prepare });
      const driver = postgresJsDriver(sql);
      const text = `SELECT $1::jsonb::text AS json, $2::boolean::text AS flag, $3::bigint::text AS big,
        $4::timestamptz = '2024-06-01T12:00:00.123456Z' AS exact, $5::text AS nothing`;
      const values = ['"a string"', 'true', '9223372036854775807', '2024-06-01T12:00:00.123456Z', null];
      for (let run = 0; run < 7; run++) {
        const options = run % 2 === 0 ? { signal: new AbortController().signal } : {};
        const { rows } = await driver.query(statement(text, ...values), options);
        expect(rows).toEqual([
          { json: '"a string"', flag: 'true', big: '9223372036854775807', exact: true, nothing: null },
        ]);
      }
    });
  }

  it('a reserved connection lost during a call with a signal: the call fails, the pool recovers', async () => {
    const sql = open({ max: 1 });
    const driver = postgresJsDriver(sql);
    const call = driver.query(statement('SELECT pg_sleep(30)::text AS slept'), {
      signal: new AbortController().signal,
    });
    await expectConnectionLoss(call);
    await expectUsable(sql);
  });

  // postgres.js 3.4.9 also leaks the connection whose reserve() it rejects with that error (it hands the
  // connection to the settled promise), so the test holds the second of two connections until the driver's
  // first reserve() has met the lost one (the driver then reserves again, or the call fails); the second
  // reserve() then gets the one held.
  it('a query lost without a signal: the next call, on a reserved connection, is not given the lost session error', async () => {
    const sql = open({ max: 2 });
    let reserves = 0;
    const counting = Object.assign(Object.create(sql) as postgres.Sql, {
      reserve: () => {
        reserves++;
        return sql.reserve();
      },
    });
    const driver = postgresJsDriver(counting);
    const held = await sql.reserve();
    await expectConnectionLoss(driver.query(statement('SELECT pg_sleep(30)::text AS slept')));
    let settled = false;
    const call = driver.query(statement('SELECT 1::text AS one'), { signal: new AbortController().signal });
    const done = () => {
      settled = true;
    };
    call.then(done, done);
    while (reserves < 2 && !settled) await new Promise((resolve) => setImmediate(resolve));
    held.release();
    expect((await call).rows).toEqual([{ one: '1' }]);
  });

  it('a connection lost inside a transaction: it fails, nothing more is written to it, the pool recovers', async () => {
    const sql = open({ max: 1 });
    const driver = postgresJsDriver(sql);
    const transaction = driver.transaction((tx) => tx.query(statement('SELECT pg_sleep(30)::text AS slept')));
    await expectConnectionLoss(transaction);
    await expectUsable(sql);
  });
});
