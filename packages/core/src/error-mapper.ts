import { isAcquireFailure } from './cancellation.js';
import {
  AbortedError,
  ConnectionFailedError,
  DuplicateEventIdError,
  EventStoreError,
  QueryFailedError,
  ReadOnlyPrimaryError,
  ReplicationConflictError,
  ReplicaUnavailableError,
  SchemaMissingError,
  TimeoutError,
} from './errors.js';
import type { ServerRole } from './event-store.js';
import { EVENT_IDS_TAKEN } from './migrations/index.js';

/** Node socket errors that mean the server could not be reached or dropped the connection. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'EAI_AGAIN',
]);

/** node-postgres' pool (and Neon's, built on it) when no client became free within its connect timeout. */
const POOL_EXHAUSTED = /timeout exceeded when trying to connect/i;

/** Driver messages (pg, postgres.js, neon, Neon's proxy) for a connection that failed, timed out or closed. */
const CONNECTION_MESSAGE = new RegExp(
  `connection (terminated|timeout|timed out|closed|ended|refused)|${POOL_EXHAUSTED.source}|timeout expired|timeout waiting for server|error connecting to (server|database)|CONNECTION_(CLOSED|ENDED|DESTROYED)|CONNECT_TIMEOUT|Client has encountered a connection error|socket hang up|websocket`,
  'i',
);

/** Socket errors of a connect that never got through: no statement can have been sent. */
const REFUSED_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'EAI_AGAIN']);

/**
 * Driver messages of a connect that did not finish, or of a pool with no free connection (pg's "timeout
 * exceeded when trying to connect"): the statement was never sent.
 */
const NOT_CONNECTED_MESSAGE = new RegExp(
  `${POOL_EXHAUSTED.source}|connection timeout|CONNECT_TIMEOUT|timeout expired|error connecting to`,
  'i',
);

/** The SQLSTATE of a driver error, when it carries one. */
export function sqlStateOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/**
 * Whether `error` means the server could not be reached or dropped the connection. Wrapped errors are
 * followed a few levels down (`cause`, Neon's `sourceError`, an `AggregateError`'s errors): e.g. Neon's
 * HTTP driver wraps a refused `fetch` whose cause carries `ECONNREFUSED`. For adapters that must know
 * whether a connection is still usable; the store itself maps such errors to `ConnectionFailedError` or
 * `ReplicaUnavailableError`.
 */
export function isConnectionFailure(error: unknown): boolean {
  return somewhereIn(
    error,
    (sqlState) => sqlState.startsWith('08') || ['57P01', '57P02', '57P03'].includes(sqlState),
    NETWORK_CODES,
    CONNECTION_MESSAGE,
  );
}

/**
 * Whether `error`, or an error it wraps (`cause`, Neon's `sourceError`, an `AggregateError`'s errors; up to
 * 3 levels down), has a SQLSTATE that `bySqlState` accepts (a SQLSTATE decides: nothing below it is
 * looked at), a socket error code in `codes`, or a code or message that `messages` matches.
 */
function somewhereIn(
  error: unknown,
  bySqlState: (sqlState: string) => boolean,
  codes: ReadonlySet<string>,
  messages: RegExp,
  depth = 0,
): boolean {
  const sqlState = sqlStateOf(error);
  if (sqlState) return bySqlState(sqlState);
  const { code, errno, message, cause, sourceError } = (error ?? {}) as Record<string, unknown>;
  if (typeof code === 'string' && (codes.has(code) || messages.test(code))) return true;
  if (typeof errno === 'string' && codes.has(errno)) return true;
  if (typeof message === 'string' && messages.test(message)) return true;
  if (depth >= 3) return false;
  const inner = [cause, sourceError, ...(error instanceof AggregateError ? error.errors : [])];
  return inner.some(
    (wrapped) => wrapped != null && somewhereIn(wrapped, bySqlState, codes, messages, depth + 1),
  );
}

/** The constraint a driver error names (pg and Neon: `constraint`, postgres.js: `constraint_name`). */
function constraintOf(error: unknown): string {
  const { constraint, constraint_name } = (error ?? {}) as Record<string, unknown>;
  const name = constraint ?? constraint_name;
  return typeof name === 'string' ? name : '';
}

/**
 * Whether a connection failure happened before any statement could be sent: a refused or unresolvable
 * connect, a connect timeout, a server that refused the session (08001, 08004, 57P03, 53300), a pool with
 * no free connection, or any error a driver's acquire of a connection failed with (`acquireUnlessAborted`).
 * Anything else (a reset, an end of stream, a terminated backend) may have come after the statement
 * reached the server.
 */
export function failedBeforeSending(error: unknown): boolean {
  if (isAcquireFailure(error)) return true;
  return somewhereIn(
    error,
    (sqlState) => ['08001', '08004', '57P03', '53300'].includes(sqlState),
    REFUSED_CODES,
    NOT_CONNECTED_MESSAGE,
  );
}

/**
 * Turns anything a driver threw into the typed error family. The one place that knows SQLSTATEs:
 * adapters pass driver errors through untouched. Messages never contain values; the driver error is
 * kept as `cause`.
 */
export function toEventStoreError(
  operation: string,
  server: ServerRole,
  error: unknown,
  signal?: AbortSignal,
  replica?: string,
): EventStoreError {
  if (error instanceof EventStoreError) return error;
  if (signal?.aborted) {
    const reason = signal.reason as { name?: string } | undefined;
    return reason?.name === 'TimeoutError'
      ? new TimeoutError(operation, error)
      : new AbortedError(operation, error);
  }
  const sqlState = sqlStateOf(error);
  if (sqlState === '25006') return new ReadOnlyPrimaryError(operation, error);
  if (sqlState === EVENT_IDS_TAKEN || (sqlState === '23505' && /_id_idx$/.test(constraintOf(error)))) {
    return new DuplicateEventIdError(operation, error);
  }
  if (server === 'replica' && (sqlState === '40001' || sqlState === '40P01')) {
    return new ReplicationConflictError(operation, error, replica);
  }
  if (sqlState === '57014' || sqlState === '55P03') return new TimeoutError(operation, error);
  if (sqlState === '42P01' || sqlState === '42883' || sqlState === '3F000')
    return new SchemaMissingError(operation, error);
  if (isConnectionFailure(error)) {
    return server === 'replica'
      ? new ReplicaUnavailableError(operation, error, replica)
      : new ConnectionFailedError(
          operation,
          server,
          error,
          POOL_EXHAUSTED.test(String((error as Error)?.message)),
        );
  }
  return new QueryFailedError(operation, sqlState, error);
}
