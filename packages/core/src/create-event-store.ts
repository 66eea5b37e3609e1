import { type Context, getConsistencyLevel } from './context.js';
import type { Driver, Executor, Row } from './driver.js';
import { toEventStoreError } from './error-mapper.js';
import {
  ConcurrencyConflictError,
  InvalidArgumentError,
  InvalidConfigurationError,
  InvalidFilterError,
  isEventStoreError,
  QueryFailedError,
} from './errors.js';
import type {
  AppendResult,
  EventStore,
  OperationReport,
  QueryResult,
  ServerRole,
  StoreOptions,
} from './event-store.js';
import type { EventFilter, FilterItem } from './filter.js';
import { routeOperation } from './routing.js';
import { decodeBigintArray, decodeEvent } from './rows.js';
import { MIGRATIONS } from './schema.js';
import {
  appendStatement,
  appliedVersionsStatement,
  migrationLockStatement,
  migrationStepStatements,
  migrationsTableStatements,
  queryStatement,
} from './statements.js';
import { buildStorableEvent, type StorableEvent } from './storable-event.js';
import { parseTableName } from './table-name.js';

type Operation = OperationReport['operation'];

/**
 * Creates a store on a primary and an optional replica. Adapters call this with their drivers; it holds
 * all behaviour: routing, the append guard, error mapping, cancellation and hooks.
 */
export function createEventStore(
  primary: Driver | undefined,
  replica: Driver | undefined,
  options: StoreOptions = {},
): EventStore {
  if (!primary) throw new InvalidConfigurationError('a primary database is required (got undefined or null)');
  const names = parseTableName(options.tableName);
  const fallbackToPrimary = options.replicaFallback === 'primary';
  const driverFor = (server: ServerRole) => (server === 'replica' ? (replica as Driver) : primary);

  const report = (entry: Omit<OperationReport, 'durationMs'>, started: number) => {
    try {
      options.hooks?.onOperation?.({ ...entry, durationMs: performance.now() - started });
    } catch {
      // Observability never breaks a call.
    }
  };

  /** Runs `work` against one server, mapping errors and reporting the outcome. */
  const run = async <T>(
    call: { operation: Operation; ctx: Context | undefined; server: ServerRole; fellBack?: boolean },
    work: (signal: AbortSignal | undefined) => Promise<T>,
    count: (result: T) => number,
  ): Promise<T> => {
    const started = performance.now();
    const entry = {
      operation: call.operation,
      consistency: getConsistencyLevel(call.ctx),
      server: call.server,
      driver: driverFor(call.server).name,
      fellBack: call.fellBack ?? false,
    };
    const signal = call.ctx?.signal;
    try {
      if (signal?.aborted) throw signal.reason;
      const result = await work(signal);
      report({ ...entry, outcome: 'ok', eventCount: count(result) }, started);
      return result;
    } catch (error) {
      const mapped = toEventStoreError(call.operation, call.server, error, signal);
      const outcome = mapped instanceof ConcurrencyConflictError ? 'conflict' : 'error';
      report({ ...entry, outcome, errorCode: mapped.code, eventCount: 0 }, started);
      throw mapped;
    }
  };

  return Object.freeze({
    tableName: names.table,

    async migrate(ctx?: Context): Promise<void> {
      const call = { operation: 'eventstore.migrate', ctx, server: 'primary' } as const;
      await run(
        call,
        () => primary.transaction((tx) => migrateIn(tx)),
        () => 0,
      );
    },

    async query(ctx: Context | undefined, filter: EventFilter): Promise<QueryResult> {
      assertFilter(filter);
      const consistency = getConsistencyLevel(ctx);
      // Only a strong read takes the read barrier; strong reads always go to the primary.
      const read = (server: ServerRole, fellBack = false) =>
        run(
          { operation: 'eventstore.query', ctx, server, fellBack },
          async (signal) => {
            const statement = queryStatement(names, filter, consistency === 'strong');
            const { rows } = await raceSignal(
              driverFor(server).query(statement, signal ? { signal } : {}),
              signal,
            );
            return toQueryResult(rows);
          },
          (result) => result.events.length,
        );
      if (routeOperation('query', consistency, replica !== undefined) === 'primary') return read('primary');
      try {
        return await read('replica');
      } catch (error) {
        if (!fallbackToPrimary || !isEventStoreError(error, 'REPLICA_UNAVAILABLE')) throw error;
        return read('primary', true);
      }
    },

    async append(
      ctx: Context | undefined,
      filter: EventFilter,
      expectedMaxSequenceNumber: bigint,
      ...events: StorableEvent[]
    ): Promise<AppendResult> {
      routeOperation('append', getConsistencyLevel(ctx), replica !== undefined);
      assertFilter(filter);
      const expected = toSequenceNumber(expectedMaxSequenceNumber);
      const storable = events.map((event) => buildStorableEvent(event));
      if (storable.length === 0) return { sequenceNumbers: [] };
      const statement = appendStatement(names, filter, expected, storable);
      return run(
        { operation: 'eventstore.append', ctx, server: 'primary' },
        // Not raced against the signal: the driver cancels the statement on the server, and the call
        // reports what the database did, so an abort can never hide a committed append. A driver that
        // cannot wait for the server's cancel gets no signal for an append at all.
        async (signal) => {
          const cancellable = signal && primary.settlesAfterCancel !== false;
          return toAppendResult(await primary.query(statement, cancellable ? { signal } : {}), expected);
        },
        (result) => result.sequenceNumbers.length,
      );
    },
  });

  /** Applies the missing migration steps in one transaction, serialised with concurrent migrators. */
  async function migrateIn(tx: Executor): Promise<void> {
    await tx.query(migrationLockStatement(names));
    for (const statement of migrationsTableStatements(names)) await tx.query(statement);
    const { rows } = await tx.query(appliedVersionsStatement(names));
    const applied = new Set(rows.map((row) => Number(row.version)));
    for (const migration of MIGRATIONS) {
      if (applied.has(migration.version)) continue;
      for (const statement of migrationStepStatements(names, migration.version)) await tx.query(statement);
    }
  }
}

function toQueryResult(rows: readonly Row[]): QueryResult {
  const events = rows.map(decodeEvent);
  return { events, maxSequenceNumber: events.at(-1)?.sequenceNumber ?? 0n };
}

function toAppendResult({ rows }: { rows: readonly Row[] }, expected: bigint): AppendResult {
  const [row] = rows;
  if (!row)
    throw new QueryFailedError(
      'eventstore.append: the append function returned no row',
      undefined,
      undefined,
    );
  const positions = row.sequence_numbers;
  if (typeof positions !== 'string')
    throw new ConcurrencyConflictError(expected, BigInt(row.max_sequence_number ?? -1));
  return { sequenceNumbers: decodeBigintArray(positions) };
}

const MAX_BIGINT = 2n ** 63n - 1n;

/** A position as a bigint; a safe non-negative integer `number` is accepted for JavaScript callers. */
function toSequenceNumber(value: unknown): bigint {
  const position = typeof value === 'number' && Number.isSafeInteger(value) ? BigInt(value) : value;
  if (typeof position !== 'bigint' || position < 0n || position > MAX_BIGINT) {
    throw new InvalidArgumentError('append: expectedMaxSequenceNumber must be a bigint between 0 and 2^63-1');
  }
  return position;
}

/** Rejects what `buildEventFilter()` cannot produce (hand-made objects from JavaScript callers). */
function assertFilter(filter: EventFilter): void {
  const isDate = (value: unknown) =>
    value === undefined || (value instanceof Date && !Number.isNaN(value.getTime()));
  const validItem = (item: FilterItem) =>
    Array.isArray(item?.eventTypes) &&
    Array.isArray(item.predicates) &&
    item.eventTypes.length + item.predicates.length > 0 &&
    item.eventTypes.every((type) => typeof type === 'string') &&
    item.predicates.every((predicate) => typeof predicate?.key === 'string');
  const valid =
    Array.isArray(filter?.items) &&
    filter.items.every(validItem) &&
    isDate(filter.occurredFrom) &&
    isDate(filter.occurredUntil) &&
    ['undefined', 'bigint'].includes(typeof filter.sequenceNumberHigherThan);
  if (!valid) throw new InvalidFilterError('expected a filter built with buildEventFilter()');
}

/** Rejects as soon as `signal` aborts; the driver is asked to cancel the statement too. */
function raceSignal<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
