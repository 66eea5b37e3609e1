import { describe, expect, it } from 'vitest';
import { withEventualConsistency, withSignal, withStrongConsistency } from './context.js';
import { createEventStore } from './create-event-store.js';
import type { Driver, Row, Statement } from './driver.js';
import type { OperationReport } from './event-store.js';
import { P } from './filter.js';
import { buildEventFilter } from './filter-builder.js';
import { buildStorableEvent } from './storable-event.js';

/** A driver that records statements and answers with canned rows: routing without a database. */
function recordingDriver(name: string, answer: (statement: Statement) => Row[] | Error = () => []) {
  const sent: Statement[] = [];
  const driver: Driver = {
    name,
    async query(statement) {
      sent.push(statement);
      const rows = answer(statement);
      if (rows instanceof Error) throw rows;
      return { rows };
    },
    transaction: (fn) => fn(driver),
  };
  return { driver, sent };
}

const filter = buildEventFilter()
  .matching()
  .anyEventTypeOf('Lent')
  .andAllPredicatesOf(P('BookID', 'b'))
  .finalize();
const event = buildStorableEvent({ type: 'Lent', occurredAt: new Date(0), payload: { BookID: 'b' } });
/** A statement's name without the hash of its text that reusable statements carry (`es.append.<hash>`). */
const kind = (statement: Statement) => statement.name.replace(/\.[0-9a-f]{16}$/, '');

const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });

describe('createEventStore routing (recording drivers)', () => {
  it('sends strong and default reads to the primary with the read barrier, eventual reads to the replica without', async () => {
    const primary = recordingDriver('primary');
    const replica = recordingDriver('replica');
    const store = createEventStore(primary.driver, replica.driver);
    await store.query(undefined, filter);
    await store.query(withStrongConsistency(), filter);
    await store.query(withEventualConsistency(), filter);
    expect(primary.sent.map(kind)).toEqual(['es.query.strong', 'es.query.strong']);
    expect(replica.sent.map(kind)).toEqual(['es.query']);
  });

  it('sends eventual reads to the primary when no replica is configured', async () => {
    const primary = recordingDriver('primary');
    await createEventStore(primary.driver, undefined).query(withEventualConsistency(), filter);
    expect(primary.sent).toHaveLength(1);
  });

  it('refuses an eventual append before touching any server', async () => {
    const primary = recordingDriver('primary');
    const replica = recordingDriver('replica');
    const store = createEventStore(primary.driver, replica.driver);
    await expect(store.append(withEventualConsistency(), filter, 0n, event)).rejects.toMatchObject({
      code: 'CONSISTENCY_VIOLATION',
    });
    expect(primary.sent.length + replica.sent.length).toBe(0);
  });

  it('maps a replica failure to ReplicaUnavailableError, or falls back to the primary when allowed', async () => {
    const primary = recordingDriver('primary');
    const replica = recordingDriver('replica', () => refused);
    const reports: OperationReport[] = [];
    const hooks = { onOperation: (report: OperationReport) => reports.push(report) };
    await expect(
      createEventStore(primary.driver, replica.driver).query(withEventualConsistency(), filter),
    ).rejects.toMatchObject({
      code: 'REPLICA_UNAVAILABLE',
    });
    const store = createEventStore(primary.driver, replica.driver, { replicaFallback: 'primary', hooks });
    await store.query(withEventualConsistency(), filter);
    expect(reports.map((r) => [r.server, r.driver, r.outcome, r.fellBack])).toEqual([
      ['replica', 'replica', 'error', false],
      ['primary', 'primary', 'ok', true],
    ]);
    // The fallback is an eventual read: it takes no read barrier on the primary.
    expect(kind(primary.sent.at(-1) as Statement)).toBe('es.query');
  });

  it('traceOperation wraps the whole call and sees every server it used; a hook that misbehaves changes nothing', async () => {
    const primary = recordingDriver('primary');
    const replica = recordingDriver('replica', () => refused);
    const traced: { operation: string; consistency: string; servers: string[]; outcome: unknown }[] = [];
    const store = createEventStore(primary.driver, replica.driver, {
      replicaFallback: 'primary',
      hooks: {
        async traceOperation(operation) {
          const outcome = await operation.run().then(
            () => 'ok',
            (error: { code: string }) => error.code,
          );
          const servers = operation.reports.map((r) => `${r.serverName}:${r.outcome}:${r.circuit ?? '-'}`);
          traced.push({
            operation: operation.operation,
            consistency: operation.consistency,
            servers,
            outcome,
          });
        },
      },
    });
    await store.query(withEventualConsistency(), filter);
    await expect(store.append(withEventualConsistency(), filter, 0n, event)).rejects.toMatchObject({
      code: 'CONSISTENCY_VIOLATION',
    });
    expect(traced).toEqual([
      {
        operation: 'eventstore.query',
        consistency: 'eventual',
        servers: ['replica-1:error:open', 'primary:ok:-'],
        outcome: 'ok',
      },
      {
        operation: 'eventstore.append',
        consistency: 'eventual',
        servers: ['primary:error:-'],
        outcome: 'CONSISTENCY_VIOLATION',
      },
    ]);
    store.close();
    for (const traceOperation of [
      () => Promise.resolve('never runs the call'),
      () => {
        throw new Error('throws at once');
      },
      (operation: { run(): Promise<unknown> }) => operation.run().then(() => 'not the result'),
    ]) {
      const sent = recordingDriver('primary');
      const own = createEventStore(sent.driver, undefined, { hooks: { traceOperation } });
      await expect(own.query(undefined, filter)).resolves.toEqual({ events: [], maxSequenceNumber: 0n });
      expect(sent.sent).toHaveLength(1);
    }
  });

  it('decodes rows and reports a conflict as ConcurrencyConflictError', async () => {
    const primary = recordingDriver('primary', (statement) =>
      kind(statement) === 'es.append' ? [{ result: '{5}' }] : [],
    );
    const store = createEventStore(primary.driver, undefined);
    await expect(store.append(undefined, filter, 3n, event)).rejects.toMatchObject({
      code: 'CONCURRENCY_CONFLICT',
      expectedMaxSequenceNumber: 3n,
      actualMaxSequenceNumber: 5n,
    });
  });

  it('sends nothing for zero events or an already aborted context', async () => {
    const primary = recordingDriver('primary');
    const store = createEventStore(primary.driver, undefined);
    expect(await store.append(undefined, filter, 0n)).toEqual({ sequenceNumbers: [] });
    const controller = new AbortController();
    controller.abort();
    await expect(
      store.append(withSignal(undefined, controller.signal), filter, 0n, event),
    ).rejects.toMatchObject({
      code: 'ABORTED',
    });
    await expect(store.query(withSignal(undefined, controller.signal), filter)).rejects.toMatchObject({
      code: 'ABORTED',
    });
    expect(primary.sent).toHaveLength(0);
  });

  it('rejects a missing primary, a bad table name and a bad expected max', async () => {
    expect(() => createEventStore(undefined, undefined)).toThrow(/primary database is required/);
    const primary = recordingDriver('primary');
    expect(() => createEventStore(primary.driver, undefined, { tableName: 'x; drop' })).toThrow(/tableName/);
    const store = createEventStore(primary.driver, undefined);
    for (const bad of [-1n, 2n ** 63n, 1.5, '1', null]) {
      await expect(store.append(undefined, filter, bad as never, event)).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
      });
    }
    // A safe integer number is accepted for JavaScript callers.
    await store.append(undefined, filter, 0 as never, event).catch(() => {});
    expect(primary.sent.map((statement) => statement.values[5])).toEqual(['{0}']);
    primary.sent.length = 0;
    expect(primary.sent).toHaveLength(0);
  });

  it('rejects hand-made filters the builder cannot produce, before any statement', async () => {
    const primary = recordingDriver('primary');
    const store = createEventStore(primary.driver, undefined);
    const bad = [
      null,
      {},
      { items: [{ eventTypes: [], predicates: [], allPredicatesMustMatch: true }] },
      { items: [{ eventTypes: [1], predicates: [], allPredicatesMustMatch: true }] },
      { items: [], occurredFrom: '2024-01-01' },
      { items: [], sequenceNumberHigherThan: 5 },
    ];
    for (const filter of bad) {
      await expect(store.query(undefined, filter as never)).rejects.toMatchObject({ code: 'INVALID_FILTER' });
      await expect(store.append(undefined, filter as never, 0n, event)).rejects.toMatchObject({
        code: 'INVALID_FILTER',
      });
    }
    expect(primary.sent).toHaveLength(0);
  });

  it('ignores a hook that throws', async () => {
    const primary = recordingDriver('primary');
    const store = createEventStore(primary.driver, undefined, {
      hooks: {
        onOperation: () => {
          throw new Error('observer bug');
        },
      },
    });
    await expect(store.query(undefined, filter)).resolves.toMatchObject({ maxSequenceNumber: 0n });
  });

  it('passes the signal to every call, except to an append on a driver that cannot wait for the server cancel', async () => {
    const signals = (settlesAfterCancel: boolean | undefined) => {
      const seen: (AbortSignal | undefined)[] = [];
      const driver: Driver = {
        name: 'signals',
        ...(settlesAfterCancel !== undefined && { settlesAfterCancel }),
        async query(statement, options) {
          seen.push(options?.signal);
          return { rows: kind(statement) === 'es.append' ? [{ result: '{0,1}' }] : [] };
        },
        transaction: (fn) => fn(driver),
      };
      return { store: createEventStore(driver, undefined), seen };
    };
    const { signal } = new AbortController();
    for (const [settles, appendGetsSignal] of [
      [undefined, true],
      [true, true],
      [false, false],
    ] as const) {
      const { store, seen } = signals(settles);
      await store.query(withSignal(undefined, signal), filter);
      await store.append(withSignal(undefined, signal), filter, 0n, event);
      expect(seen[0]).toBe(signal);
      // An append gets the signal of its batch, which aborts when one of its appends aborts.
      expect(seen[1] instanceof AbortSignal).toBe(appendGetsSignal);
    }
  });

  it('bounds every read and append by its own timeouts, whatever the driver does', async () => {
    const hanging: Driver = {
      name: 'hanging',
      query: () => new Promise(() => {}), // never settles, not even when aborted
      transaction: (fn) => fn(hanging),
    };
    const store = createEventStore(hanging, undefined, { connectTimeoutMs: 20, statementTimeoutMs: 30 });
    const started = performance.now();
    await expect(store.query(undefined, filter)).rejects.toMatchObject({ code: 'TIMEOUT', retryable: true });
    expect(performance.now() - started).toBeLessThan(5_000); // 50 ms asked; only "not forever" is asserted
    const identified = buildStorableEvent({ ...event, id: '0b7e6f5a-1c2d-4e3f-8a9b-0c1d2e3f4a5b' });
    // The append was sent and its server answers neither it nor the cancel: the outcome is unknown.
    await expect(store.append(undefined, filter, 0n, identified)).rejects.toMatchObject({
      code: 'APPEND_OUTCOME_UNKNOWN',
      retryable: true,
    });
    for (const bad of [0, -1, 1.5, Number.POSITIVE_INFINITY, 2 ** 31]) {
      expect(() => createEventStore(hanging, undefined, { statementTimeoutMs: bad })).toThrow(
        /statementTimeoutMs/,
      );
      expect(() => createEventStore(hanging, undefined, { connectTimeoutMs: bad })).toThrow(
        /connectTimeoutMs/,
      );
    }
  });

  it('runs a call again in an explicit READ COMMITTED transaction when the session refuses (SQLSTATE ES001)', async () => {
    const sessionDefault = Object.assign(new Error('needs READ COMMITTED'), { code: 'ES001' });
    const log: string[] = [];
    const driver: Driver = {
      name: 'repeatable-read',
      async query(statement) {
        log.push(`query ${kind(statement)}`);
        if (statement.name !== 'es.read_committed') throw sessionDefault;
        return { rows: [] };
      },
      async transaction(fn) {
        log.push('begin');
        const result = await fn({
          async query(statement) {
            log.push(`tx ${kind(statement)}`);
            return { rows: kind(statement) === 'es.append' ? [{ result: '{0,1}' }] : [] };
          },
        });
        log.push('commit');
        return result;
      },
    };
    const store = createEventStore(driver, undefined);
    await store.query(undefined, filter);
    expect(await store.append(undefined, filter, 0n, event)).toEqual({ sequenceNumbers: [1n] });
    const once = ['begin', 'tx es.read_committed'];
    expect(log).toEqual([
      'query es.query.strong',
      ...once,
      'tx es.query.strong',
      'commit',
      'query es.append',
      ...once,
      'tx es.append',
      'commit',
    ]);
  });

  it('sends concurrent appends on disjoint boundaries together, each with its own guard and outcome', async () => {
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const sent: Statement[] = [];
    const driver: Driver = {
      name: 'batching',
      async query(statement) {
        sent.push(statement);
        if (sent.length === 1) await held;
        const expected = (statement.values[5] as string).slice(1, -1).split(',');
        // Every guard finds max 0: appends expecting 0 pass and get consecutive positions.
        let next = sent.length * 100;
        const positions = expected.flatMap((value) => (value === '0' ? [String(next++)] : []));
        return { rows: [{ result: `{${[...expected.map(() => '0'), ...positions].join(',')}}` }] };
      },
      transaction: (fn) => fn(driver),
    };
    const store = createEventStore(driver, undefined, { appendBatching: { concurrency: 1 } });
    const boundary = (book: string) =>
      buildEventFilter().matching().allPredicatesOf(P('BookID', book)).finalize();
    const on = (book: string) =>
      buildStorableEvent({ type: 'Lent', occurredAt: new Date(0), payload: { BookID: book } });
    const first = store.append(undefined, boundary('a'), 0n, on('a'));
    const later = [
      store.append(undefined, boundary('b'), 0n, on('b')),
      store.append(undefined, boundary('c'), 5n, on('c')),
      store.append(undefined, boundary('b'), 0n, on('b')), // touches the first 'b': waits for the next batch
    ];
    release();
    await expect(first).resolves.toEqual({ sequenceNumbers: [100n] });
    const outcomes = await Promise.allSettled(later);
    expect(sent.map((statement) => statement.values[5])).toEqual(['{0}', '{0,5}', '{0}']);
    expect(outcomes[0]).toEqual({ status: 'fulfilled', value: { sequenceNumbers: [200n] } });
    expect(outcomes[1]).toMatchObject({ status: 'rejected', reason: { code: 'CONCURRENCY_CONFLICT' } });
    expect(outcomes[2]).toEqual({ status: 'fulfilled', value: { sequenceNumbers: [300n] } });
  });
});
