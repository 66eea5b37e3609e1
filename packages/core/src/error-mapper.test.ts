import { describe, expect, it } from 'vitest';
import { failedBeforeSending, toEventStoreError } from './error-mapper.js';
import { ConcurrencyConflictError } from './errors.js';

const pgError = (code: string, message = 'boom') => Object.assign(new Error(message), { code });

describe('toEventStoreError', () => {
  it.each([
    ['25006', 'primary', 'READ_ONLY_PRIMARY'],
    ['57014', 'primary', 'TIMEOUT'],
    ['55P03', 'primary', 'TIMEOUT'],
    ['42883', 'primary', 'SCHEMA_MISSING'],
    ['42P01', 'replica', 'SCHEMA_MISSING'],
    ['57P01', 'replica', 'REPLICA_UNAVAILABLE'],
    ['57P03', 'replica', 'REPLICA_UNAVAILABLE'],
    ['08006', 'primary', 'CONNECTION_FAILED'],
    ['23505', 'primary', 'QUERY_FAILED'],
    ['ES002', 'primary', 'DUPLICATE_EVENT_ID'],
    ['22P02', 'primary', 'QUERY_FAILED'],
    ['40001', 'replica', 'REPLICATION_CONFLICT'],
    ['40P01', 'replica', 'REPLICATION_CONFLICT'],
    ['40001', 'primary', 'QUERY_FAILED'],
  ] as const)('maps SQLSTATE %s on the %s to %s', (sqlState, server, code) => {
    expect(toEventStoreError('op', server, pgError(sqlState)).code).toBe(code);
  });

  it.each(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT'])(
    'maps the socket error %s on the replica to REPLICA_UNAVAILABLE',
    (code) => {
      const mapped = toEventStoreError('eventstore.query', 'replica', pgError(code));
      expect(mapped.code).toBe('REPLICA_UNAVAILABLE');
      expect(mapped.cause).toBeInstanceOf(Error);
    },
  );

  it('maps a unique violation of the ids index (either driver field) to DUPLICATE_EVENT_ID', () => {
    for (const field of ['constraint', 'constraint_name']) {
      const taken = Object.assign(pgError('23505', 'Key (id)=(secret) exists'), { [field]: 'events_id_idx' });
      const mapped = toEventStoreError('eventstore.append', 'primary', taken);
      expect(mapped.code).toBe('DUPLICATE_EVENT_ID');
      expect(mapped.message).not.toContain('secret');
    }
  });

  it('maps a read the standby cancelled (conflict with recovery) to a retryable error naming the replica', () => {
    const cancelled = pgError('40001', 'canceling statement due to conflict with recovery');
    const mapped = toEventStoreError('eventstore.queryStream', 'replica', cancelled, undefined, 'replica-2');
    expect(mapped).toMatchObject({ code: 'REPLICATION_CONFLICT', retryable: true, replica: 'replica-2' });
    expect(mapped.message).toMatch(/replica 'replica-2' cancelled the read/);
  });

  it('maps an exhausted pg pool to a retryable connection failure', () => {
    const exhausted = new Error('timeout exceeded when trying to connect');
    const mapped = toEventStoreError('q', 'primary', exhausted);
    expect(mapped).toMatchObject({ code: 'CONNECTION_FAILED', retryable: true });
    expect(mapped.message).toMatch(/primary's pool had no free connection/);
  });

  it('tells a failure before sending (refused, connect timeout, full pool) from one that may come after', () => {
    for (const before of [
      pgError('ECONNREFUSED'),
      pgError('57P03'),
      pgError('08001'),
      new Error('timeout exceeded when trying to connect'),
      new Error('Connection terminated due to connection timeout'),
      Object.assign(new Error('write CONNECT_TIMEOUT'), { code: 'CONNECT_TIMEOUT' }),
      new Error('fetch failed', { cause: pgError('ECONNREFUSED') }),
    ]) {
      expect(failedBeforeSending(before), before.message).toBe(true);
    }
    for (const after of [
      pgError('ECONNRESET'),
      pgError('57P01'),
      pgError('08006'),
      pgError('ETIMEDOUT'),
      new Error('Connection terminated unexpectedly'),
      Object.assign(new Error('write CONNECTION_CLOSED'), { code: 'CONNECTION_CLOSED' }),
    ]) {
      expect(failedBeforeSending(after), after.message).toBe(false);
    }
  });

  it('recognises driver messages for broken connections', () => {
    expect(
      toEventStoreError('q', 'replica', new Error('Connection terminated due to connection timeout')).code,
    ).toBe('REPLICA_UNAVAILABLE');
    expect(toEventStoreError('q', 'primary', new Error('Connection terminated unexpectedly')).code).toBe(
      'CONNECTION_FAILED',
    );
  });

  it('follows wrapped errors to a connection failure (Neon HTTP wraps a refused fetch), but not forever', () => {
    const refused = { code: 'ECONNREFUSED' };
    const wrapped = Object.assign(new Error('fetch failed'), {
      sourceError: new Error('x', { cause: refused }),
    });
    expect(toEventStoreError('q', 'replica', wrapped).code).toBe('REPLICA_UNAVAILABLE');
    expect(toEventStoreError('q', 'primary', new Error('failed', { cause: refused })).code).toBe(
      'CONNECTION_FAILED',
    );
    expect(toEventStoreError('q', 'replica', new Error('proxy: timeout waiting for server')).code).toBe(
      'REPLICA_UNAVAILABLE',
    );
    const deep = [1, 2, 3, 4].reduce<unknown>((inner) => new Error('wrap', { cause: inner }), refused);
    expect(toEventStoreError('q', 'primary', deep).code).toBe('QUERY_FAILED');
    expect(toEventStoreError('q', 'primary', new Error('x', { cause: pgError('23505') })).code).toBe(
      'QUERY_FAILED',
    );
  });

  it('tells a timeout from an abort by the signal reason', () => {
    const aborted = new AbortController();
    aborted.abort();
    expect(toEventStoreError('q', 'primary', pgError('57014'), aborted.signal).code).toBe('ABORTED');
    const timedOut = new AbortController();
    timedOut.abort(new DOMException('late', 'TimeoutError'));
    expect(toEventStoreError('q', 'primary', pgError('57014'), timedOut.signal).code).toBe('TIMEOUT');
  });

  it('keeps errors of the family as they are', () => {
    const conflict = new ConcurrencyConflictError(1n, 2n);
    expect(toEventStoreError('append', 'primary', conflict)).toBe(conflict);
  });

  it('never copies the driver message (which may hold values) into its own message', () => {
    const mapped = toEventStoreError(
      'eventstore.append',
      'primary',
      pgError('23505', 'Key (payload)=(secret) exists'),
    );
    expect(mapped.message).not.toContain('secret');
    expect(mapped.message).toContain('23505');
  });
});
