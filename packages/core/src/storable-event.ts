import { InvalidEventError } from './errors.js';
import type { JsonValue } from './filter.js';

/** A JSON object: the shape of an event's payload and metadata. */
export type JsonObject = { readonly [key: string]: JsonValue };

/** An event ready to append. Build it with `buildStorableEvent`, which validates it. */
export interface StorableEvent {
  readonly type: string;
  readonly occurredAt: Date;
  readonly payload: JsonObject;
  readonly metadata: JsonObject;
}

/** An event read back from the store. */
export interface StoredEvent extends StorableEvent {
  /** The event's position in the store: unique, ascending in append order. */
  readonly sequenceNumber: bigint;
}

/** Input of `buildStorableEvent`. Payload and metadata are JSON objects, or JSON text of one. */
export interface StorableEventInput {
  readonly type: string;
  readonly occurredAt: Date;
  readonly payload: JsonObject | string;
  readonly metadata?: JsonObject | string;
}

/**
 * Validates and freezes an event for `append`: a non-empty type, a valid `Date`, and payload and
 * metadata that are plain JSON objects (no `undefined`, functions, bigints, NaN or cycles) or JSON text
 * of one (parsed here, so stored events always hold objects). Throws
 * `InvalidEventError`, whose message names the problem but never contains the payload.
 */
export function buildStorableEvent(input: StorableEventInput): StorableEvent {
  if (typeof input?.type !== 'string' || input.type.trim() === '' || !isStorableText(input.type)) {
    throw new InvalidEventError(
      'event type must be a non-empty string without NUL characters or lone surrogates',
    );
  }
  if (!(input.occurredAt instanceof Date) || Number.isNaN(input.occurredAt.getTime())) {
    throw new InvalidEventError(`event "${input.type}": occurredAt must be a valid Date`);
  }
  const payload = toJsonObject(input.payload, `event "${input.type}": payload`);
  const metadata = toJsonObject(input.metadata ?? {}, `event "${input.type}": metadata`);
  return Object.freeze({ type: input.type, occurredAt: new Date(input.occurredAt), payload, metadata });
}

function toJsonObject(input: unknown, what: string): JsonObject {
  const value = typeof input === 'string' ? parseJsonText(input, what) : input;
  if (!isPlainObject(value)) throw new InvalidEventError(`${what} must be a JSON object`);
  assertJson(value, what, new Set());
  // A deep copy through JSON: later changes to the caller's object cannot change the stored event.
  return JSON.parse(JSON.stringify(value)) as JsonObject;
}

function parseJsonText(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new InvalidEventError(`${what} is a string but not valid JSON text`);
  }
}

function assertJson(value: unknown, what: string, seen: Set<object>): void {
  switch (typeof value) {
    case 'string':
      if (!isStorableText(value))
        throw new InvalidEventError(`${what} contains a NUL character or a lone surrogate`);
      return;
    case 'boolean':
      return;
    case 'number':
      if (!Number.isFinite(value)) throw new InvalidEventError(`${what} contains a non-finite number`);
      return;
    case 'object': {
      if (value === null) return;
      if (seen.has(value)) throw new InvalidEventError(`${what} contains a cycle`);
      seen.add(value);
      if (Array.isArray(value)) {
        for (const item of value) assertJson(item, what, seen);
      } else if (isPlainObject(value)) {
        for (const [key, item] of Object.entries(value)) {
          assertJson(key, what, seen);
          assertJson(item, what, seen);
        }
      } else {
        throw new InvalidEventError(`${what} contains a non-JSON object`);
      }
      seen.delete(value);
      return;
    }
    default:
      throw new InvalidEventError(`${what} contains a value of type ${typeof value}, which is not JSON`);
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** PostgreSQL text and jsonb cannot hold NUL, and jsonb rejects lone UTF-16 surrogates. */
export function isStorableText(text: string): boolean {
  return !text.includes('\u0000') && text.isWellFormed();
}
