import { InvalidEventError } from './errors.js';
import type { JsonValue } from './filter.js';
import { copyJsonValue, isPlainObject, textProblem } from './json-value.js';
import { canonicalDecimal } from './lock-keys.js';

/**
 * The longest event type, in UTF-8 bytes: the `(event_type, sequence_number)` index holds entries of up
 * to about 2,700 bytes, and a type is a name, not data.
 */
export const MAX_EVENT_TYPE_BYTES = 1024;

/** The range of `occurredAt` (and of filter time bounds): years 1 to 9999, as ISO 8601 text writes them. */
export const OCCURRED_AT_RANGE = Object.freeze({
  min: new Date('0001-01-01T00:00:00.000Z'),
  max: new Date('9999-12-31T23:59:59.999Z'),
});

/** A JSON object: the shape of an event's payload and metadata. */
export type JsonObject = { readonly [key: string]: JsonValue };

/** An event ready to append. Build it with `buildStorableEvent`, which validates it. */
export interface StorableEvent {
  readonly type: string;
  readonly occurredAt: Date;
  readonly payload: JsonObject;
  readonly metadata: JsonObject;
  /**
   * The event's id, a UUID in lower case, when it was given one: unique in the table. An append whose
   * events all carry ids is idempotent (see `AppendOutcomeUnknownError`).
   */
  readonly id?: string;
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
  /** A UUID (any version, any case) that identifies the event: an append of it can be retried safely. */
  readonly id?: string;
}

/**
 * Validates and freezes an event for `append`: a non-empty type of at most `MAX_EVENT_TYPE_BYTES`, a
 * valid `Date` within `OCCURRED_AT_RANGE`, and payload and metadata that are plain JSON objects (no
 * `undefined`, functions, bigints, NaN or cycles, nested at most `MAX_JSON_DEPTH` deep) or JSON text of one
 * (parsed here, so stored events always hold objects; text with an integer that a JavaScript number
 * cannot hold exactly is refused rather than rounded), and an optional `id` that is a UUID. Throws
 * `InvalidEventError`, whose message names the problem but never contains the payload or the id.
 */
export function buildStorableEvent(input: StorableEventInput): StorableEvent {
  const typeProblem =
    typeof input?.type !== 'string' || input.type.trim() === ''
      ? 'is not a non-empty string'
      : eventTypeProblem(input.type);
  if (typeProblem !== undefined) throw new InvalidEventError(`the event type ${typeProblem}`);
  const occurredAtProblem = dateProblem(input.occurredAt);
  if (occurredAtProblem !== undefined) {
    throw new InvalidEventError(`event "${input.type}": occurredAt ${occurredAtProblem}`);
  }
  const payload = toJsonObject(input.payload, `event "${input.type}": payload`);
  const metadata = toJsonObject(input.metadata ?? {}, `event "${input.type}": metadata`);
  const event = { type: input.type, occurredAt: new Date(input.occurredAt), payload, metadata };
  if (input.id === undefined) return Object.freeze(event);
  if (typeof input.id !== 'string' || !UUID.test(input.id)) {
    throw new InvalidEventError(`event "${input.type}": id must be a UUID string (8-4-4-4-12 hex digits)`);
  }
  return Object.freeze({ ...event, id: input.id.toLowerCase() });
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Validates and copies a JSON object (or JSON text of one) as payloads are; `InvalidEventError` names `what`. */
export function toJsonObject(input: unknown, what: string): JsonObject {
  const fail = (problem: string): never => {
    throw new InvalidEventError(`${what} ${problem}`);
  };
  const value = typeof input === 'string' ? parseJsonText(input, fail) : input;
  if (!isPlainObject(value)) fail('must be a JSON object');
  // A frozen deep copy: later changes to the caller's object cannot change the stored event.
  return copyJsonValue(value, fail) as JsonObject;
}

function parseJsonText(text: string, fail: (problem: string) => never): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return fail('is a string but not valid JSON text');
  }
  if (roundsANumber(text)) {
    fail(
      'is JSON text with a number that a JavaScript number cannot hold exactly (an integer beyond 2^53?); ' +
        'pass it as a string',
    );
  }
  return value;
}

/** Strings of JSON text (skipped) and its number literals. */
const JSON_TOKENS = /"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/g;

/** Whether parsing `text` changes the value of one of its numbers (beyond what trailing zeros do). */
function roundsANumber(text: string): boolean {
  for (const [token] of text.matchAll(JSON_TOKENS)) {
    // Up to 15 digits and no exponent, a double holds the number exactly.
    if (token.startsWith('"') || (token.length < 16 && !/[eE]/.test(token))) continue;
    const parsed = Number(token);
    if (Number.isFinite(parsed) && canonicalDecimal(String(parsed)) !== canonicalDecimal(token)) return true;
  }
  return false;
}

/** Why `type` cannot be an event type, or `undefined` when it can. */
export function eventTypeProblem(type: string): string | undefined {
  const problem = textProblem(type);
  if (problem !== undefined) return problem;
  // A UTF-16 code unit takes at most 3 bytes in UTF-8: most types need no encoding to be measured.
  if (type.length * 3 <= MAX_EVENT_TYPE_BYTES) return undefined;
  const bytes = new TextEncoder().encode(type).length;
  if (bytes > MAX_EVENT_TYPE_BYTES) {
    return `is ${bytes} bytes long; the limit is ${MAX_EVENT_TYPE_BYTES} bytes (UTF-8)`;
  }
  return undefined;
}

/** Why `date` cannot be an event time or a time bound, or `undefined` when it can. */
export function dateProblem(date: unknown): string | undefined {
  if (!(date instanceof Date) || Number.isNaN(date.getTime())) return 'is not a valid Date';
  const time = date.getTime();
  if (time < OCCURRED_AT_RANGE.min.getTime() || time > OCCURRED_AT_RANGE.max.getTime()) {
    return 'is outside years 1 to 9999 (UTC), the range the store accepts';
  }
  return undefined;
}
