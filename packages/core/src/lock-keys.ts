import type { EventFilter, JsonValue, Predicate } from './filter.js';
import type { StorableEvent } from './storable-event.js';

/**
 * The lock keys of the append guard, as text. Correctness under concurrency rests on one rule: every
 * event that matches a filter shares at least one key with that filter. The server hashes each key
 * (`hashtextextended`, namespaced by the table) into an advisory lock; the SQL function
 * `<table>_event_keys` computes the same texts for rows inserted without the store (the trigger), and an
 * integration test checks that both sides agree.
 *
 * - An event yields `*`, `t:<type>`, and one key per top-level payload entry: `p:<name>:<value>`, where
 *   the value is `s<string>`, `n<number as a plain decimal>` (1, 1.0 and 1e0 are one key, as jsonb
 *   compares them), `btrue` / `bfalse`, `z` (null), or only the kind for containers, `o` / `a`
 *   (`payload @> {k: v}` with a scalar `v` never matches a container at `k`, and a container `v` only
 *   matches the same kind).
 * - A filter without items yields `*`; an item of event types only yields its `t:` keys; an item with
 *   predicates yields every predicate's key (any-of), or one predicate's key (all-of: each predicate is
 *   necessary), choosing a string or number over a boolean, null or container so that the lock is narrow.
 *
 * Two texts that collide (a name containing `:`) only share a lock, which adds waiting, never a miss.
 */

/** The key every event has: a filter without items locks it. */
export const ANY_EVENT_KEY = '*';

/** Distinct event keys one append may lock one by one; above it, it takes the escalation lock instead. */
export const ESCALATE_AFTER = 128;

/** The keys of one event. */
export function eventKeys(event: Pick<StorableEvent, 'type' | 'payload'>): string[] {
  const keys = [ANY_EVENT_KEY, `t:${event.type}`];
  for (const [name, value] of Object.entries(event.payload)) keys.push(payloadKey(name, value));
  return keys;
}

/** The keys of a filter: a decision on it locks them exclusively. */
export function filterKeys(filter: EventFilter): string[] {
  if (filter.items.length === 0) return [ANY_EVENT_KEY];
  const keys = new Set<string>();
  for (const item of filter.items) {
    if (item.predicates.length === 0) {
      for (const type of item.eventTypes) keys.add(`t:${type}`);
    } else if (item.allPredicatesMustMatch) {
      const chosen = narrowest(item.predicates);
      keys.add(payloadKey(chosen.key, chosen.value));
    } else {
      for (const predicate of item.predicates) keys.add(payloadKey(predicate.key, predicate.value));
    }
  }
  return [...keys];
}

function payloadKey(name: string, value: JsonValue): string {
  return `p:${name}:${valueTag(value)}`;
}

function valueTag(value: JsonValue): string {
  if (value === null) return 'z';
  switch (typeof value) {
    case 'string':
      return `s${value}`;
    case 'number':
      // A safe integer prints without exponent, leading zeros or fraction: already canonical.
      return `n${Number.isSafeInteger(value) ? String(value) : canonicalDecimal(String(value))}`;
    case 'boolean':
      return `b${value}`;
    default:
      return Array.isArray(value) ? 'a' : 'o';
  }
}

/** Lower is narrower: identifiers are strings or numbers; a flag or a container is shared by many events. */
const KIND_RANK: Record<string, number> = { string: 0, number: 1, boolean: 3, object: 4 };

function narrowest(predicates: readonly Predicate[]): Predicate {
  const rank = ({ value }: Predicate) => (value === null ? 5 : (KIND_RANK[typeof value] ?? 4));
  return predicates.reduce((best, candidate) => (rank(candidate) < rank(best) ? candidate : best));
}

const DECIMAL = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/;

/**
 * A JSON number literal (or `String(number)`) as the plain decimal PostgreSQL prints for it as
 * `trim_scale(numeric)`: no exponent, no leading zeros, no trailing fractional zeros, no `-0`.
 * `1e+21` gives `1000000000000000000000`, `1.50` gives `1.5`, `-0.0` gives `0`.
 */
export function canonicalDecimal(literal: string): string {
  const match = DECIMAL.exec(literal);
  if (!match) throw new RangeError('not a decimal number literal');
  const [, sign, whole = '', fraction = '', exponent = '0'] = match;
  const digits = `${whole}${fraction}`;
  const point = whole.length + Number(exponent);
  let text: string;
  if (point <= 0) text = `0.${'0'.repeat(-point)}${digits}`;
  else if (point >= digits.length) text = `${digits}${'0'.repeat(point - digits.length)}`;
  else text = `${digits.slice(0, point)}.${digits.slice(point)}`;
  text = text.replace(/^0+(?=\d)/, '');
  if (text.includes('.')) text = text.replace(/\.?0+$/, '');
  return text === '0' ? '0' : `${sign}${text}`;
}
