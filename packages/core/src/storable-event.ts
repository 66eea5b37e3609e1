import { InvalidEventError } from './errors.js';
import type { JsonValue } from './filter.js';
import { copyJsonValue, isPlainObject, textProblem } from './json-value.js';

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
  if (typeof input?.type !== 'string' || input.type.trim() === '' || textProblem(input.type) !== undefined) {
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
  const fail = (problem: string): never => {
    throw new InvalidEventError(`${what} ${problem}`);
  };
  const value = typeof input === 'string' ? parseJsonText(input, fail) : input;
  if (!isPlainObject(value)) fail('must be a JSON object');
  // A frozen deep copy: later changes to the caller's object cannot change the stored event.
  return copyJsonValue(value, fail) as JsonObject;
}

function parseJsonText(text: string, fail: (problem: string) => never): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return fail('is a string but not valid JSON text');
  }
}
