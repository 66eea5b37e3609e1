/**
 * The error family. Every error is an `EventStoreError` with a string `code`; messages name the
 * operation and never contain parameter values or payloads. Use `isEventStoreError(e, code)` or
 * `instanceof` to tell them apart.
 */

/** Every `code` an `EventStoreError` can have. */
export type EventStoreErrorCode =
  | 'CONCURRENCY_CONFLICT'
  | 'INVALID_FILTER'
  | 'INVALID_EVENT'
  | 'INVALID_ARGUMENT'
  | 'INVALID_CONFIGURATION'
  | 'CONSISTENCY_VIOLATION'
  | 'REPLICA_UNAVAILABLE'
  | 'REPLICA_LAG'
  | 'READ_ONLY_PRIMARY'
  | 'ABORTED'
  | 'TIMEOUT'
  | 'SCHEMA_MISSING'
  | 'SCHEMA_DRIFT'
  | 'CONNECTION_FAILED'
  | 'APPEND_OUTCOME_UNKNOWN'
  | 'DUPLICATE_EVENT_ID'
  | 'REPLICATION_CONFLICT'
  | 'QUERY_FAILED';

/** Base class of every error thrown by the store. */
export class EventStoreError extends Error {
  /** A stable, machine-readable discriminator. */
  readonly code: EventStoreErrorCode;
  /** `true` when retrying the same call later may succeed (lost connection, timeout, conflict). */
  readonly retryable: boolean;

  constructor(
    code: EventStoreErrorCode,
    message: string,
    options?: { cause?: unknown; retryable?: boolean },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryable = options?.retryable ?? false;
  }
}

/** Narrows `error` to an `EventStoreError`, optionally with the given `code`. Works across package copies. */
export function isEventStoreError<C extends EventStoreErrorCode>(
  error: unknown,
  code?: C,
): error is EventStoreError & { code: C } {
  if (typeof error !== 'object' || error === null) return false;
  const candidate = error as { code?: unknown; retryable?: unknown };
  const known =
    error instanceof EventStoreError ||
    (typeof candidate.code === 'string' && typeof candidate.retryable === 'boolean');
  return known && (code === undefined || candidate.code === code);
}

/**
 * The boundary changed since it was read: an event matching the append's filter now exists above the
 * expected position. Nothing was inserted. Re-read, decide again, and retry.
 */
export class ConcurrencyConflictError extends EventStoreError {
  /** The maximum position the caller expected. */
  readonly expectedMaxSequenceNumber: bigint;
  /** The maximum position the store found for the filter. */
  readonly actualMaxSequenceNumber: bigint;

  constructor(expected: bigint, actual: bigint) {
    super(
      'CONCURRENCY_CONFLICT',
      `append: concurrency conflict, the filter's maximum sequence number is ${actual}, expected ${expected}; nothing was appended`,
      { retryable: true },
    );
    this.expectedMaxSequenceNumber = expected;
    this.actualMaxSequenceNumber = actual;
  }
}

/** The filter cannot be used as given (an item left empty after sanitising, bounds that exclude each other). */
export class InvalidFilterError extends EventStoreError {
  constructor(message: string) {
    super('INVALID_FILTER', `invalid filter: ${message}`);
  }
}

/** An event given to `append` is not storable. */
export class InvalidEventError extends EventStoreError {
  constructor(message: string) {
    super('INVALID_EVENT', `invalid event: ${message}`);
  }
}

/** A call got an argument it cannot use (e.g. a negative expected sequence number). */
export class InvalidArgumentError extends EventStoreError {
  constructor(message: string) {
    super('INVALID_ARGUMENT', message);
  }
}

/** The store was constructed with invalid arguments (missing primary, bad table name, ...). */
export class InvalidConfigurationError extends EventStoreError {
  constructor(message: string) {
    super('INVALID_CONFIGURATION', message);
  }
}

/** A call broke a routing rule, e.g. an append with an eventual-consistency context. */
export class ConsistencyViolationError extends EventStoreError {
  constructor(message: string) {
    super('CONSISTENCY_VIOLATION', message);
  }
}

/**
 * No replica could serve an eventual read: the one tried is down, unreachable, broke the connection or did
 * not answer within `replicaTimeoutMs`, or every replica's circuit is open.
 */
export class ReplicaUnavailableError extends EventStoreError {
  /** The replica that failed (its name), when one was tried. */
  readonly replica: string | undefined;

  constructor(operation: string, cause: unknown, replica?: string) {
    super(
      'REPLICA_UNAVAILABLE',
      `${operation}: ${replica === undefined ? 'no replica is available' : `the replica '${replica}' is unavailable`}; strong reads and appends still use the primary`,
      {
        cause,
        retryable: true,
      },
    );
    this.replica = replica;
  }
}

/**
 * An eventual read found no replica fresh enough, and the store's `onStaleRead` is `'error'`: none known to
 * be within its staleness bound (`maxLagMs`), or none reached its consistency token within `tokenWaitMs`.
 * Retryable: replicas catch up.
 */
export class ReplicaLagError extends EventStoreError {
  /** The staleness bound the read asked for, in ms, when that was the reason. */
  readonly maxLagMs: number | undefined;
  /** How long the read waited for a replica to reach its token, in ms, when that was the reason. */
  readonly tokenWaitMs: number | undefined;

  constructor(operation: string, reason: { maxLagMs: number } | { tokenWaitMs: number }) {
    const maxLagMs = 'maxLagMs' in reason ? reason.maxLagMs : undefined;
    const tokenWaitMs = 'tokenWaitMs' in reason ? reason.tokenWaitMs : undefined;
    super(
      'REPLICA_LAG',
      maxLagMs !== undefined
        ? `${operation}: no replica is known to be within ${maxLagMs} ms of the primary; read with a larger bound, strong consistency, or onStaleRead 'primary'`
        : `${operation}: no replica reached the consistency token within ${tokenWaitMs} ms; retry, read with strong consistency, or use onStaleRead 'primary'`,
      { retryable: true },
    );
    this.maxLagMs = maxLagMs;
    this.tokenWaitMs = tokenWaitMs;
  }
}

/**
 * A write or a strong read reached a read-only server (SQLSTATE 25006). The server configured as primary
 * is a standby: the primary and replica were probably swapped, or a failover happened.
 */
export class ReadOnlyPrimaryError extends EventStoreError {
  constructor(operation: string, cause: unknown) {
    super(
      'READ_ONLY_PRIMARY',
      `${operation}: the server configured as primary is read-only (SQLSTATE 25006); were the primary and replica swapped?`,
      { cause },
    );
  }
}

/** The call was cancelled through the context's `AbortSignal`. Nothing was appended. */
export class AbortedError extends EventStoreError {
  constructor(operation: string, cause: unknown) {
    super('ABORTED', `${operation}: cancelled`, { cause });
  }
}

/** The call ran out of time (a context timeout, a statement timeout or a connect timeout). */
export class TimeoutError extends EventStoreError {
  constructor(operation: string, cause: unknown) {
    super('TIMEOUT', `${operation}: timed out`, { cause, retryable: true });
  }
}

/** The events table or its functions are missing or outdated: run `store.migrate()`. */
export class SchemaMissingError extends EventStoreError {
  constructor(operation: string, cause: unknown) {
    super(
      'SCHEMA_MISSING',
      `${operation}: the event store schema is missing or outdated; run store.migrate()`,
      { cause },
    );
  }
}

/**
 * The installed schema is not the one the migration steps produce (a function edited by hand, an index
 * missing or built differently, a database migrated by a newer version): `migrate()` refuses to run on
 * it and changes nothing. `problems` names each difference (objects only, never values).
 */
export class SchemaDriftError extends EventStoreError {
  /** One line per difference. */
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(
      'SCHEMA_DRIFT',
      `migrate: the installed schema differs from what the migration steps produce: ${problems.join('; ')}`,
    );
    this.problems = Object.freeze([...problems]);
  }
}

/**
 * The server could not be reached, the connection broke, or the pool had no free connection in time
 * (`poolExhausted`). For an append it means the append was not sent (else: `AppendOutcomeUnknownError`).
 */
export class ConnectionFailedError extends EventStoreError {
  constructor(operation: string, server: string, cause: unknown, poolExhausted = false) {
    super(
      'CONNECTION_FAILED',
      poolExhausted
        ? `${operation}: the ${server}'s pool had no free connection in time (all in use, or connecting took too long)`
        : `${operation}: the ${server} could not be reached or closed the connection`,
      { cause, retryable: true },
    );
  }
}

/**
 * The connection was lost after the append was sent: it may have committed or not. When every event of
 * the append carries an `id`, retrying the same append is safe (`retryable: true`): if the first attempt
 * committed, the retry returns its positions instead of storing the events again. Without ids a retry
 * could store them twice (`retryable: false`): read the boundary first to see whether they are there.
 */
export class AppendOutcomeUnknownError extends EventStoreError {
  constructor(operation: string, idempotent: boolean, cause: unknown) {
    super(
      'APPEND_OUTCOME_UNKNOWN',
      `${operation}: the connection to the primary was lost after the append was sent; it may have committed` +
        (idempotent
          ? ' (its events have ids: retrying it is safe)'
          : ' (its events have no ids: check the boundary before retrying)'),
      { cause, retryable: idempotent },
    );
  }
}

/**
 * Some of the append's event ids are stored already, by another append (or in another order): the append
 * is not a retry of an earlier one, and nothing was inserted. Ids must be unique in the table.
 */
export class DuplicateEventIdError extends EventStoreError {
  constructor(operation: string, cause: unknown) {
    super(
      'DUPLICATE_EVENT_ID',
      `${operation}: some of the events' ids are stored already by another append; nothing was appended`,
      { cause },
    );
  }
}

/**
 * A standby cancelled a read because replaying the primary's changes needed what the read was using
 * ("conflict with recovery", SQLSTATE 40001 or 40P01): usual for long reads on a replica whose
 * `max_standby_streaming_delay` is short. Retryable; nothing was changed.
 */
export class ReplicationConflictError extends EventStoreError {
  /** The replica that cancelled the read. */
  readonly replica: string | undefined;

  constructor(operation: string, cause: unknown, replica?: string) {
    super(
      'REPLICATION_CONFLICT',
      `${operation}: the replica${replica ? ` '${replica}'` : ''} cancelled the read to go on replaying the primary's changes (conflict with recovery); retry it, or raise max_standby_streaming_delay there`,
      { cause, retryable: true },
    );
    this.replica = replica;
  }
}

/** Any other database error; `sqlState` holds PostgreSQL's SQLSTATE when there is one. */
export class QueryFailedError extends EventStoreError {
  /** PostgreSQL's SQLSTATE, when the server sent one. */
  readonly sqlState: string | undefined;

  constructor(operation: string, sqlState: string | undefined, cause: unknown) {
    super(
      'QUERY_FAILED',
      `${operation}: the database reported an error${sqlState ? ` (SQLSTATE ${sqlState})` : ''}`,
      {
        cause,
      },
    );
    this.sqlState = sqlState;
  }
}
