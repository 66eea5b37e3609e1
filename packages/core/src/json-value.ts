import type { JsonValue } from './filter.js';

/**
 * JSON values as PostgreSQL's jsonb can store them, shared by predicates and events: validation with a
 * deep, frozen copy, and a canonical text for comparing values.
 */

/** Why PostgreSQL cannot store `text` as a jsonb string or text value, or `undefined` when it can. */
export function textProblem(text: string): string | undefined {
  if (text.includes('\u0000')) return 'contains a NUL character (\\u0000), which PostgreSQL cannot store';
  if (!text.isWellFormed())
    return 'contains a lone surrogate (malformed UTF-16), which PostgreSQL cannot store';
  return undefined;
}

/**
 * How deep JSON values may nest (arrays and objects within each other). Deeper values are refused: they
 * would exhaust the stack of the code that copies, compares and serialises them.
 */
export const MAX_JSON_DEPTH = 100;

/**
 * Validates `value` as JSON and returns a frozen deep copy (`-0` becomes `0`, as in jsonb). On a problem
 * calls `fail` with a description that never contains the value itself.
 */
export function copyJsonValue(value: unknown, fail: (problem: string) => never): JsonValue {
  return copy(value, fail, new Set());
}

function copy(value: unknown, fail: (problem: string) => never, ancestors: Set<object>): JsonValue {
  switch (typeof value) {
    case 'boolean':
      return value;
    case 'number':
      if (!Number.isFinite(value)) fail('holds a number that is not finite; JSON has no NaN or Infinity');
      return value === 0 ? 0 : value;
    case 'string': {
      const problem = textProblem(value);
      return problem === undefined ? value : fail(`holds a string that ${problem}`);
    }
    case 'object': {
      if (value === null) return null;
      if (ancestors.has(value)) return fail('is circular (contains a cycle)');
      if (ancestors.size >= MAX_JSON_DEPTH) {
        return fail(`nests deeper than ${MAX_JSON_DEPTH} levels, the limit`);
      }
      ancestors.add(value);
      const copied = Array.isArray(value)
        ? copyArray(value, fail, ancestors)
        : copyObject(value, fail, ancestors);
      ancestors.delete(value);
      return copied;
    }
    default:
      return fail(`is not JSON: it holds a value of type ${typeof value}`);
  }
}

function copyArray(
  array: readonly unknown[],
  fail: (problem: string) => never,
  ancestors: Set<object>,
): JsonValue {
  const copied: JsonValue[] = [];
  for (let index = 0; index < array.length; index++) {
    if (!(index in array)) fail('is a sparse array; JSON arrays have no holes');
    copied.push(copy(array[index], fail, ancestors));
  }
  return Object.freeze(copied);
}

function copyObject(object: object, fail: (problem: string) => never, ancestors: Set<object>): JsonValue {
  if (!isPlainObject(object))
    fail('holds an object that is not a plain object (a Date, Map, class instance, ...)');
  // Properties assigned one by one keep the copy a fast object (Object.fromEntries made wide payloads
  // dictionaries: copying and serialising a 40-field payload took 3.5x as long).
  const copied: Record<string, JsonValue> = {};
  for (const name of Object.keys(object)) {
    const problem = textProblem(name);
    if (problem !== undefined) fail(`holds an object key that ${problem}`);
    const member = (object as Record<string, unknown>)[name];
    if (member === undefined) fail('holds a property that is undefined; JSON has no undefined');
    const value = copy(member, fail, ancestors);
    // Assigning "__proto__" would set the prototype: that key is defined as a plain property.
    if (name === '__proto__') {
      Object.defineProperty(copied, name, { value, enumerable: true, writable: true, configurable: true });
    } else copied[name] = value;
  }
  return Object.freeze(copied);
}

/** A plain object: an object literal or `Object.create(null)`, not an array, Date, Map or class instance. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

/**
 * A deterministic JSON text for a JSON value: object keys sorted in UTF-16 code-unit order, no whitespace,
 * strings and numbers as `JSON.stringify` writes them (so `1` and `1.0` give the same text). Array order is
 * kept. Two values have the same canonical JSON exactly when they are equal JSON values.
 */
export function canonicalJson(value: JsonValue): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (isJsonArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const keys = Object.keys(value).sort(compareCodeUnits);
  const members = keys.map((key) => `${JSON.stringify(key)}:${canonicalJson(value[key] as JsonValue)}`);
  return `{${members.join(',')}}`;
}

/** Orders strings by UTF-16 code units, as `Array.prototype.sort` does, independent of locale. */
export function compareCodeUnits(a: string, b: string): number {
  if (a < b) return -1;
  return a > b ? 1 : 0;
}

function isJsonArray(value: JsonValue): value is readonly JsonValue[] {
  return Array.isArray(value);
}
