import {
  buildEventFilter,
  isEventStoreError,
  type OperationReport,
  P,
  withEventualConsistency,
  withSignal,
} from '@es/core';
import { describe, expect, it } from 'vitest';
import {
  fromNeonHttp,
  fromNeonHttpAndReplica,
  fromNeonPool,
  type NeonHttpLike,
  type NeonPoolLike,
} from './index.js';

/** A fake HTTP query function that records its calls and answers with no rows. */
function recordingSql() {
  const calls: { text: string; params: unknown[]; options: Record<string, unknown> }[] = [];
  const sql: NeonHttpLike = {
    query: async (text, params, options) => {
      calls.push({ text, params, options });
      return { rows: [] };
    },
  };
  return { sql, calls };
}

const filter = buildEventFilter().matching().allPredicatesOf(P('BookID', 'b-1')).finalize();

describe('the HTTP driver (fromNeonHttp)', () => {
  it('sends each statement as one sql.query() with rows as objects and full results', async () => {
    const { sql, calls } = recordingSql();
    await fromNeonHttp(sql).query(undefined, filter);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.text).toContain('$1');
    expect(calls[0]?.params.every((value) => typeof value === 'string' || value === null)).toBe(true);
    expect(calls[0]?.options).toEqual({ arrayMode: false, fullResults: true });
  });

  it("passes the context's signal to fetch, and only then", async () => {
    const { sql, calls } = recordingSql();
    const { signal } = new AbortController();
    await fromNeonHttp(sql).query(withSignal(undefined, signal), filter);
    expect(calls[0]?.options.fetchOptions).toEqual({ signal });
  });

  it('migrate() rejects with InvalidConfigurationError that names the rule; nothing is sent', async () => {
    const { sql, calls } = recordingSql();
    const reports: OperationReport[] = [];
    const store = fromNeonHttp(sql, { hooks: { onOperation: (report) => reports.push(report) } });
    const error = await store.migrate().catch((thrown: unknown) => thrown);
    expect(isEventStoreError(error, 'INVALID_CONFIGURATION')).toBe(true);
    expect((error as Error).message).toMatch(/fromNeonPool\(\)/);
    expect((error as Error).message).toMatch(/at deploy/);
    expect(calls).toHaveLength(0);
    expect(reports).toMatchObject([
      {
        operation: 'eventstore.migrate',
        driver: 'neon-http',
        outcome: 'error',
        errorCode: 'INVALID_CONFIGURATION',
      },
    ]);
  });

  it('refuses a call on a session that is not READ COMMITTED with InvalidConfigurationError that says what to set', async () => {
    const sql: NeonHttpLike = {
      query: async () => {
        throw Object.assign(new Error('the event store needs READ COMMITTED'), { code: 'ES001' });
      },
    };
    const error = await fromNeonHttp(sql)
      .query(undefined, filter)
      .catch((thrown: unknown) => thrown);
    expect(isEventStoreError(error, 'INVALID_CONFIGURATION')).toBe(true);
    expect((error as Error).message).toMatch(/default_transaction_isolation/);
    expect((error as Error).message).toMatch(/read committed/);
  });

  it('routes eventual reads to the replica function, and reports the driver as neon-http', async () => {
    const primary = recordingSql();
    const replica = recordingSql();
    const reports: OperationReport[] = [];
    const store = fromNeonHttpAndReplica(primary.sql, replica.sql, {
      hooks: { onOperation: (report) => reports.push(report) },
    });
    await store.query(withEventualConsistency(), filter);
    await store.query(undefined, filter);
    expect([primary.calls.length, replica.calls.length]).toEqual([1, 1]);
    expect(reports.map((report) => [report.server, report.driver])).toEqual([
      ['replica', 'neon-http'],
      ['primary', 'neon-http'],
    ]);
  });

  it('a missing function fails at construction', () => {
    const missing = undefined as unknown as NeonHttpLike;
    expect(() => fromNeonHttp(missing)).toThrow(expect.objectContaining({ code: 'INVALID_CONFIGURATION' }));
    expect(() => fromNeonHttpAndReplica(missing, undefined)).toThrow(
      expect.objectContaining({ code: 'INVALID_CONFIGURATION' }),
    );
  });
});

describe('the Pool driver (fromNeonPool)', () => {
  it("is @es/pg's driver, reported as neon", async () => {
    const rows = async () => ({ rows: [] });
    const pool: NeonPoolLike = {
      options: {},
      connect: async () => ({ query: rows, release: () => {}, on: () => {}, removeListener: () => {} }),
      on: () => undefined,
      listenerCount: () => 1,
    };
    const reports: OperationReport[] = [];
    await fromNeonPool(pool, { hooks: { onOperation: (report) => reports.push(report) } }).query(
      undefined,
      filter,
    );
    expect(reports).toMatchObject([{ driver: 'neon', server: 'primary', outcome: 'ok' }]);
  });
});
