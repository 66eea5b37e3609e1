import { isEventStoreError, type Row, type Statement } from '@es/core';
import postgres from 'postgres';
import { describe, expect, it, vi } from 'vitest';
import { fromPostgresJs, type PostgresJsLike, postgresJsDriver } from './index.js';

/** The adapter's logic without a server: a recording stand-in for postgres.js, and real option parsing. */

const statement = (text: string, ...values: (string | null)[]): Statement => ({ name: 'test', text, values });

type Parameter = { value: string | null; type: number };
type Call = { on: 'pool' | 'reserved'; text: string; parameters: Parameter[]; prepare: boolean };

/** A postgres.js stand-in: `respond` decides what each statement does; every call is recorded. */
function fakeSql(respond: (call: Call) => Promise<Row[]> = async () => [{ ok: 't' }]) {
  const calls: Call[] = [];
  const events: string[] = [];
  const queryable = (on: Call['on']) => ({
    typed: (value: string | null, type: number): Parameter => ({ value, type }),
    unsafe(text: string, parameters: Parameter[], { prepare }: { prepare: boolean }) {
      const call = { on, text, parameters, prepare };
      calls.push(call);
      return Object.assign(respond(call), {
        cancel: () => events.push('cancel() without its promise'),
        canceller: async () => {
          events.push('cancel sent');
          await new Promise((resolve) => setTimeout(resolve, 20));
          events.push('cancel done');
        },
      });
    },
  });
  const sql: PostgresJsLike<Parameter> = {
    ...queryable('pool'),
    options: { fetch_types: true, transform: { column: {}, value: {}, row: {} } },
    reserve: async () => ({ ...queryable('reserved'), release: () => events.push('released') }),
  };
  return { sql, calls, events };
}

/** The error postgres.js rejects a query with when its connection closes. */
const connectionClosed = () =>
  Object.assign(new Error('write CONNECTION_CLOSED'), { code: 'CONNECTION_CLOSED' });

describe('postgresJsDriver', () => {
  it('sends every value as text (OID 25) through unsafe, prepared only when the plan may be reused', async () => {
    const { sql, calls } = fakeSql();
    const driver = postgresJsDriver(sql);
    const { rows } = await driver.query(statement('SELECT $1::jsonb, $2::boolean', '"x"', null));
    await driver.query({ ...statement('SELECT f($1)', 'y'), reusablePlan: true });
    expect(rows).toEqual([{ ok: 't' }]);
    expect(calls).toEqual([
      {
        on: 'pool',
        text: 'SELECT $1::jsonb, $2::boolean',
        parameters: [
          { value: '"x"', type: 25 },
          { value: null, type: 25 },
        ],
        prepare: false,
      },
      { on: 'pool', text: 'SELECT f($1)', parameters: [{ value: 'y', type: 25 }], prepare: true },
    ]);
  });

  it('runs a call with a signal on a reserved connection and releases it', async () => {
    const { sql, calls, events } = fakeSql();
    await postgresJsDriver(sql).query(statement('SELECT 1'), { signal: new AbortController().signal });
    expect(calls.map((call) => call.on)).toEqual(['reserved']);
    expect(events).toEqual(['released']);
  });

  it('an abort sends the cancel request and releases the connection only once the cancel is done', async () => {
    const controller = new AbortController();
    const { sql, events } = fakeSql(
      () =>
        new Promise((_, reject) => {
          controller.signal.addEventListener('abort', () =>
            setTimeout(() => reject(Object.assign(new Error('canceling statement'), { code: '57014' })), 5),
          );
          // The caller aborts once the statement has been sent.
          queueMicrotask(() => controller.abort());
        }),
    );
    const call = postgresJsDriver(sql).query(statement('SELECT 1'), { signal: controller.signal });
    await expect(call).rejects.toMatchObject({ code: '57014' });
    expect(events).toEqual(['cancel sent', 'cancel done', 'released']);
  });

  it('sends the cancel request again while the statement runs on (a request before it started is dropped)', async () => {
    const controller = new AbortController();
    const { sql, events } = fakeSql(
      () =>
        new Promise((_, reject) => {
          // The server only cancels once the statement runs: here, from the second request on.
          const cancelled = () => events.filter((event) => event === 'cancel done').length >= 2;
          const check = setInterval(() => {
            if (!cancelled()) return;
            clearInterval(check);
            reject(Object.assign(new Error('canceling statement'), { code: '57014' }));
          }, 1);
          // The caller aborts once the statement has been sent.
          queueMicrotask(() => controller.abort());
        }),
    );
    const call = postgresJsDriver(sql).query(statement('SELECT 1'), { signal: controller.signal });
    await expect(call).rejects.toMatchObject({ code: '57014' });
    expect(events).toEqual(['cancel sent', 'cancel done', 'cancel sent', 'cancel done', 'released']);
  });

  it('a signal that fires while waiting for a connection runs nothing and releases the late connection', async () => {
    const { sql, calls, events } = fakeSql();
    const reserve = sql.reserve;
    let arrive: () => void = () => {};
    sql.reserve = () => new Promise((resolve) => (arrive = () => resolve(reserve())));
    const controller = new AbortController();
    const call = postgresJsDriver(sql).query(statement('SELECT 1'), { signal: controller.signal });
    controller.abort();
    await expect(call).rejects.toThrow();
    arrive();
    await vi.waitFor(() => expect(events).toEqual(['released']));
    expect(calls).toEqual([]);
  });

  it('a transaction runs BEGIN, the work and COMMIT on one reserved connection', async () => {
    const { sql, calls, events } = fakeSql();
    await postgresJsDriver(sql).transaction((tx) => tx.query(statement('SELECT $1::int', '1')));
    expect(calls.map((call) => `${call.on}: ${call.text}`)).toEqual([
      'reserved: BEGIN',
      'reserved: SELECT $1::int',
      'reserved: COMMIT',
    ]);
    expect(events).toEqual(['released']);
  });

  it('after a lost connection, writes nothing more to it (no ROLLBACK) and does not release it', async () => {
    const lost = connectionClosed();
    const { sql, calls, events } = fakeSql(async (call) => {
      if (call.text === 'SELECT lost') throw lost;
      return [];
    });
    const transaction = postgresJsDriver(sql).transaction((tx) => tx.query(statement('SELECT lost')));
    await expect(transaction).rejects.toBe(lost);
    expect(calls.map((call) => call.text)).toEqual(['BEGIN', 'SELECT lost']);
    expect(events).toEqual([]);
  });

  it('an SQL error leaves the connection usable: ROLLBACK, then release', async () => {
    const failure = Object.assign(new Error('division by zero'), { code: '22012' });
    const { sql, calls, events } = fakeSql(async (call) => {
      if (call.text === 'SELECT 1/0') throw failure;
      return [];
    });
    await expect(postgresJsDriver(sql).transaction((tx) => tx.query(statement('SELECT 1/0')))).rejects.toBe(
      failure,
    );
    expect(calls.map((call) => call.text)).toEqual(['BEGIN', 'SELECT 1/0', 'ROLLBACK']);
    expect(events).toEqual(['released']);
  });
});

describe('what postgresJsDriver accepts (real postgres() option parsing, no connection)', () => {
  const rejects = (sql: postgres.Sql, reason: RegExp) => {
    try {
      expect(() => postgresJsDriver(sql)).toThrow(reason);
      expect(
        isEventStoreError(
          catchError(() => fromPostgresJs(sql)),
          'INVALID_CONFIGURATION',
        ),
      ).toBe(true);
    } finally {
      void sql.end();
    }
  };

  it('rejects a Sql whose transform would rename columns or change values', () => {
    rejects(postgres({ transform: postgres.camel }), /transform/);
    rejects(postgres({ transform: { value: (value: unknown) => value } }), /transform/);
    rejects(postgres({ transform: { row: (row: postgres.Row) => row } }), /transform/);
  });

  it('rejects fetch_types: false, set in the options or in the URL', () => {
    rejects(postgres({ fetch_types: false }), /fetch_types/);
    rejects(postgres('postgres://localhost/db?fetch_types=false'), /fetch_types/);
  });

  it('accepts the defaults, custom types, prepare: false and transform.undefined', async () => {
    const instances = [
      postgres({ connect_timeout: 5 }),
      postgres({ types: { bigint: postgres.BigInt } }),
      postgres({ prepare: false, transform: { undefined: null } }),
    ];
    for (const sql of instances) expect(postgresJsDriver(sql, 'custom').name).toBe('custom');
    await Promise.all(instances.map((sql) => sql.end()));
  });

  it("caps the failed-connect count postgres.js's backoff is given at 3, once, for every store on the Sql", async () => {
    const sql = postgres({ connect_timeout: 5 });
    const shared = (sql.options as unknown as { shared: { retries: number } }).shared;
    shared.retries = 2;
    postgresJsDriver(sql);
    postgresJsDriver(sql);
    expect(shared.retries).toBe(2);
    for (let failed = 0; failed < 10; failed++) shared.retries++;
    // Its default backoff waits (0.5 to 1) x min(3^retries / 100, 20) s: 0.27 s at most now, not 20 s.
    expect(shared.retries).toBe(3);
    shared.retries = 0; // a successful connect resets it
    expect(shared.retries).toBe(0);
    await sql.end();
  });
});

function catchError(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  return undefined;
}
