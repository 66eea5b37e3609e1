import { decodeToken } from './consistency-token.js';
import { InvalidArgumentError } from './errors.js';

/**
 * A context is an immutable value passed to every store call, like Go's `context.Context`: it carries
 * the consistency level (which server may answer) and, optionally, an `AbortSignal`.
 */

/** `strong` reads and all writes go to the primary; `eventual` reads may be served by a replica. */
export type ConsistencyLevel = 'strong' | 'eventual';

/** The value carried through store calls. Create one with the `with*` functions below. */
export interface Context {
  readonly consistency: ConsistencyLevel;
  readonly signal?: AbortSignal;
  /** An eventual read's bound on staleness: replicas further behind than this are skipped. */
  readonly maxLagMs?: number;
  /** A consistency token an eventual read must see at least (see `withConsistencyToken`). */
  readonly token?: string;
}

const background: Context = Object.freeze({ consistency: 'strong' });

function derive(parent: Context | undefined, change: Partial<Context>): Context {
  return Object.freeze({ ...(parent ?? background), ...change });
}

/** Returns a context that routes to the primary. Use it in command handlers (read, decide, append). */
export function withStrongConsistency(ctx?: Context): Context {
  const { maxLagMs: _, ...rest } = ctx ?? background;
  return Object.freeze({ ...rest, consistency: 'strong' as const });
}

/**
 * Returns a context whose reads may be served by a replica and so may be stale. Use it only in
 * query handlers; an append refuses it. `maxLagMs` bounds the staleness: a replica known to be further
 * behind the primary than that is skipped (and with none fresh enough the store's `onStaleRead` decides);
 * without it the store's `maxReplicaLagMs` applies, if set.
 */
export function withEventualConsistency(ctx?: Context, options?: { readonly maxLagMs?: number }): Context {
  const maxLagMs = options?.maxLagMs;
  if (maxLagMs === undefined) return derive(ctx, { consistency: 'eventual' });
  if (typeof maxLagMs !== 'number' || !Number.isFinite(maxLagMs) || maxLagMs < 0) {
    throw new InvalidArgumentError(
      'withEventualConsistency: maxLagMs must be a finite number of ms, 0 or more',
    );
  }
  return derive(ctx, { consistency: 'eventual', maxLagMs });
}

/**
 * Returns a context whose eventual reads see at least the state `token` names: a token from
 * `store.append` (read your writes) or from `QueryResult.token` (monotonic reads). Such a read is served by
 * a replica that has reached the token, waiting for one up to the store's `tokenWaitMs`, then as the store's
 * `onStaleRead` says. Strong reads see everything anyway. `undefined` leaves `ctx` as it is, so that a
 * token that may be missing (a first request) can be passed through. Tokens are opaque, URL-safe text.
 */
export function withConsistencyToken(ctx: Context | undefined, token: string | undefined): Context {
  if (token === undefined) return ctx ?? background;
  decodeToken(token, 'withConsistencyToken');
  return derive(ctx, { token });
}

/** The consistency level of `ctx`; `strong` when no context is given. */
export function getConsistencyLevel(ctx?: Context): ConsistencyLevel {
  return ctx?.consistency ?? 'strong';
}

/** Returns a context whose calls are cancelled when `signal` aborts. */
export function withSignal(ctx: Context | undefined, signal: AbortSignal): Context {
  const signals = ctx?.signal ? [ctx.signal, signal] : [signal];
  return derive(ctx, { signal: signals.length === 1 ? signal : AbortSignal.any(signals) });
}

/** Returns a context whose calls fail with a `TimeoutError` after `ms` milliseconds. */
export function withTimeout(ctx: Context | undefined, ms: number): Context {
  return withSignal(ctx, AbortSignal.timeout(ms));
}
