import { describe, expect, it } from 'vitest';
import { type EventFilter, type JsonValue, P, type Predicate } from './filter.js';
import { buildEventFilter } from './filter-builder.js';
import { matchesFilter } from './filter-match.js';
import { canonicalDecimal, eventKeys, filterKeys } from './lock-keys.js';
import { buildStorableEvent, type StorableEvent } from './storable-event.js';

/** A deterministic pseudo-random generator, so that a failure is reproducible. */
function random(seed: number) {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
}

const TYPES = ['Added', 'Lent', 'Returned'];
const VALUES: JsonValue[] = ['a', 'b', '1', 1, 1.5, 100, true, false, null, { nested: 'x' }, [1, 2], [2], {}];
const KEYS = ['BookID', 'ReaderID', 'Shelf'];

function randomEvent(next: () => number): StorableEvent {
  const payload: Record<string, JsonValue> = {};
  for (const key of KEYS) if (next() < 0.7) payload[key] = VALUES[Math.floor(next() * VALUES.length)] ?? null;
  return buildStorableEvent({
    type: TYPES[Math.floor(next() * TYPES.length)] as string,
    occurredAt: new Date(0),
    payload,
  });
}

function randomFilter(next: () => number): EventFilter {
  if (next() < 0.05) return buildEventFilter().matchingAnyEvent();
  const pick = () =>
    P(KEYS[Math.floor(next() * KEYS.length)] as string, VALUES[Math.floor(next() * VALUES.length)] ?? null);
  const predicates = (): [Predicate, ...Predicate[]] => (next() < 0.4 ? [pick()] : [pick(), pick(), pick()]);
  let builder = buildEventFilter().matching();
  for (let items = 1 + Math.floor(next() * 2); ; items--) {
    const type = TYPES[Math.floor(next() * TYPES.length)] as string;
    const completed = [
      () => builder.anyEventTypeOf(type),
      () => builder.anyPredicateOf(...predicates()),
      () => builder.allPredicatesOf(...predicates()),
      () => builder.anyEventTypeOf(type).andAnyPredicateOf(...predicates()),
      () => builder.anyEventTypeOf(type).andAllPredicatesOf(...predicates()),
    ][Math.floor(next() * 5)]?.() as ReturnType<typeof builder.anyEventTypeOf>;
    if (items === 1) return completed.finalize();
    builder = completed.orMatching();
  }
}

describe('lock keys', () => {
  it('every event matching a filter shares a key with it (2,000 x 300 random pairs)', () => {
    const next = random(42);
    const filters = Array.from({ length: 2000 }, () => randomFilter(next));
    const events = Array.from({ length: 300 }, () => randomEvent(next));
    const eventKeySets = events.map((event) => new Set(eventKeys(event)));
    let matching = 0;
    const unsound: string[] = [];
    filters.forEach((filter) => {
      const keys = filterKeys(filter);
      events.forEach((event, index) => {
        if (!matchesFilter(filter, event)) return;
        matching++;
        if (!keys.some((key) => eventKeySets[index]?.has(key))) unsound.push(JSON.stringify([filter, event]));
      });
    });
    expect(matching).toBeGreaterThan(50_000);
    expect(unsound.slice(0, 3)).toEqual([]);
  });

  it('lock one predicate of an all-of item, an identifier rather than a flag, and every predicate of an any-of item', () => {
    const allOf = buildEventFilter()
      .matching()
      .allPredicatesOf(P('active', true), P('userId', 'u-1'))
      .finalize();
    expect(filterKeys(allOf)).toEqual(['p:userId:su-1']);
    const anyOf = buildEventFilter().matching().anyPredicateOf(P('a', 1), P('b', null)).finalize();
    expect(filterKeys(anyOf)).toEqual(['p:a:n1', 'p:b:z']);
    const types = buildEventFilter().matching().anyEventTypeOf('X', 'Y').finalize();
    expect(filterKeys(types)).toEqual(['t:X', 't:Y']);
    expect(filterKeys(buildEventFilter().matchingAnyEvent())).toEqual(['*']);
  });

  it('key an event by its type and each top-level entry, containers by their kind only', () => {
    const event = buildStorableEvent({
      type: 'Lent',
      occurredAt: new Date(0),
      payload: { s: 'x', n: 1.5e-7, b: false, z: null, o: { deep: 1 }, a: [1] },
    });
    expect(eventKeys(event)).toEqual([
      '*',
      't:Lent',
      'p:s:sx',
      'p:n:n0.00000015',
      'p:b:bfalse',
      'p:z:z',
      'p:o:o',
      'p:a:a',
    ]);
  });

  it('write numbers as the plain decimals PostgreSQL prints for trim_scale(numeric)', () => {
    const cases: [string, string][] = [
      ['0', '0'],
      ['-0', '0'],
      ['-0.0', '0'],
      ['1', '1'],
      ['1.0', '1'],
      ['1.50', '1.5'],
      ['1e0', '1'],
      ['1E2', '100'],
      ['1e+21', '1000000000000000000000'],
      ['1.5e-7', '0.00000015'],
      ['-12.340e1', '-123.4'],
      ['0.001', '0.001'],
      ['00012', '12'],
      ['123456789012345678901234567890', '123456789012345678901234567890'],
    ];
    for (const [literal, expected] of cases) expect(canonicalDecimal(literal), literal).toBe(expected);
    expect(canonicalDecimal(String(5e-324))).toBe(`0.${'0'.repeat(323)}5`);
    expect(() => canonicalDecimal('1/2')).toThrow(RangeError);
  });
});
