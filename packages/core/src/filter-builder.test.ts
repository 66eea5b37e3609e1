import { describe, expect, expectTypeOf, it } from 'vitest';
import { InvalidFilterError } from './errors.js';
import type { EventFilter, JsonValue, Predicate } from './filter.js';
import { P } from './filter.js';
import {
  buildEventFilter,
  type CompletedFilterItemBuilder,
  canonicalJson,
  type EmptyFilterItemBuilder,
  type FilterItemBuilderLackingEventTypes,
  type FilterItemBuilderLackingPredicates,
  type FinalFilterBuilder,
  type OccurredFromFilterBuilder,
} from './filter-builder.js';

const from = new Date('2024-01-01T00:00:00.000Z');
const until = new Date('2024-12-31T23:59:59.999Z');
const item = (eventTypes: string[], predicates: Predicate[] = [], allPredicatesMustMatch = true) => ({
  eventTypes,
  predicates,
  allPredicatesMustMatch,
});
const m = () => m();
const oneItem = () => m().anyEventTypeOf('A');
/** The items of the filter a builder finalizes to. */
const itemsOf = (builder: { finalize(): EventFilter }) => builder.finalize().items;

describe('buildEventFilter: state transitions', () => {
  it('matchingAnyEvent has no items and no bounds', () => {
    expect(buildEventFilter().matchingAnyEvent()).toStrictEqual({ items: [] });
  });

  it('bounds straight from the root give a filter with no items', () => {
    expect(buildEventFilter().occurredFrom(from).finalize()).toStrictEqual({ items: [], occurredFrom: from });
    expect(buildEventFilter().occurredFrom(from).andOccurredUntil(until).finalize()).toStrictEqual({
      items: [],
      occurredFrom: from,
      occurredUntil: until,
    });
    expect(buildEventFilter().occurredUntil(until).finalize()).toStrictEqual({
      items: [],
      occurredUntil: until,
    });
    expect(buildEventFilter().withSequenceNumberHigherThan(7n).finalize()).toStrictEqual({
      items: [],
      sequenceNumberHigherThan: 7n,
    });
  });

  it('types only, types then predicates (any / all)', () => {
    expect(oneItem().finalize().items).toEqual([item(['A'])]);
    expect(oneItem().andAnyPredicateOf(P('k', 1), P('j', 2)).finalize().items).toEqual([
      item(['A'], [P('j', 2), P('k', 1)], false),
    ]);
    expect(oneItem().andAllPredicatesOf(P('k', 1)).finalize().items).toEqual([
      item(['A'], [P('k', 1)], true),
    ]);
  });

  it('predicates only, predicates then types', () => {
    const any = m().anyPredicateOf(P('k', 'v'));
    expect(any.finalize().items).toEqual([item([], [P('k', 'v')], false)]);
    expect(any.andAnyEventTypeOf('B', 'A').finalize().items).toEqual([
      item(['A', 'B'], [P('k', 'v')], false),
    ]);
    const all = m().allPredicatesOf(P('k', 'v'));
    expect(all.finalize().items).toEqual([item([], [P('k', 'v')], true)]);
    expect(all.andAnyEventTypeOf('A').finalize().items).toEqual([item(['A'], [P('k', 'v')], true)]);
  });

  it('orMatching joins items in order', () => {
    const filter = oneItem()
      .orMatching()
      .allPredicatesOf(P('x', true))
      .orMatching()
      .anyEventTypeOf('C')
      .finalize();
    expect(filter.items).toEqual([item(['A']), item([], [P('x', true)]), item(['C'])]);
  });

  it('bounds after an item, from every item state', () => {
    expect(oneItem().occurredFrom(from).andOccurredUntil(until).finalize()).toStrictEqual({
      items: [item(['A'])],
      occurredFrom: from,
      occurredUntil: until,
    });
    expect(oneItem().andAllPredicatesOf(P('k', 1)).occurredFrom(from).finalize().occurredFrom).toEqual(from);
    const lackingTypes = m().anyPredicateOf(P('k', 1));
    expect(lackingTypes.occurredUntil(until).finalize().occurredUntil).toEqual(until);
    expect(lackingTypes.withSequenceNumberHigherThan(0n).finalize().sequenceNumberHigherThan).toBe(0n);
    expect(oneItem().withSequenceNumberHigherThan(3n).finalize()).toStrictEqual({
      items: [item(['A'])],
      sequenceNumberHigherThan: 3n,
    });
  });

  it('an equal lower and upper time bound is allowed', () => {
    expect(oneItem().occurredFrom(from).andOccurredUntil(new Date(from)).finalize().occurredUntil).toEqual(
      from,
    );
  });
});

describe('buildEventFilter: types', () => {
  it('each step has the documented type', () => {
    const root = buildEventFilter();
    expectTypeOf(root.matching()).toEqualTypeOf<EmptyFilterItemBuilder>();
    expectTypeOf(root.matchingAnyEvent()).toEqualTypeOf<EventFilter>();
    expectTypeOf(root.occurredFrom(from)).toEqualTypeOf<OccurredFromFilterBuilder>();
    expectTypeOf(root.withSequenceNumberHigherThan(1n)).toEqualTypeOf<FinalFilterBuilder>();
    expectTypeOf(oneItem()).toEqualTypeOf<FilterItemBuilderLackingPredicates>();
    expectTypeOf(
      root.matching().anyPredicateOf(P('k', 1)),
    ).toEqualTypeOf<FilterItemBuilderLackingEventTypes>();
    expectTypeOf(oneItem().andAnyPredicateOf(P('k', 1))).toEqualTypeOf<CompletedFilterItemBuilder>();
    expectTypeOf(oneItem().occurredFrom(from).andOccurredUntil(until)).toEqualTypeOf<FinalFilterBuilder>();
    expectTypeOf<OccurredFromFilterBuilder>().not.toHaveProperty('withSequenceNumberHigherThan');
    expectTypeOf<FinalFilterBuilder>().not.toHaveProperty('orMatching');
  });

  it('invalid orders do not compile and fail at run time too', () => {
    const d = new Date();
    // @ts-expect-error an empty item cannot be finalized
    expect(() => m().finalize()).toThrow(TypeError);
    // @ts-expect-error the time bounds and the sequence bound exclude each other
    expect(() => buildEventFilter().occurredFrom(d).withSequenceNumberHigherThan(1n)).toThrow(TypeError);
    // @ts-expect-error the time bounds and the sequence bound exclude each other
    expect(() => oneItem().withSequenceNumberHigherThan(1n).occurredFrom(d)).toThrow(TypeError);
    // @ts-expect-error an upper bound cannot be followed by a lower one
    expect(() => oneItem().occurredUntil(d).andOccurredUntil(d)).toThrow(TypeError);
    // @ts-expect-error no more items after a bound
    expect(() => oneItem().occurredFrom(d).orMatching()).toThrow(TypeError);
    const typed = m().anyPredicateOf(P('k', 1)).andAnyEventTypeOf('A');
    // @ts-expect-error an item takes event types once
    expect(() => typed.andAnyEventTypeOf('B')).toThrow(TypeError);
    // @ts-expect-error an item takes one predicate group
    expect(() => oneItem().andAnyPredicateOf(P('k', 1)).andAllPredicatesOf(P('j', 1))).toThrow(TypeError);
    const predicated = m().allPredicatesOf(P('k', 1));
    // @ts-expect-error predicates first, then types: not predicates again
    expect(() => predicated.andAnyPredicateOf(P('j', 1))).toThrow(TypeError);
    // @ts-expect-error at least one event type
    expect(() => m().anyEventTypeOf()).toThrow(InvalidFilterError);
    // @ts-expect-error at least one predicate
    expect(() => m().allPredicatesOf()).toThrow(InvalidFilterError);
    // @ts-expect-error sequence numbers are bigints
    expect(() => buildEventFilter().withSequenceNumberHigherThan(1)).toThrow(InvalidFilterError);
  });
});

describe('buildEventFilter: sanitising', () => {
  it('drops empty event types, sorts by code unit and de-duplicates', () => {
    const filter = m().anyEventTypeOf('b', '', 'a', 'B', 'b', 'é', 'a', '').finalize();
    expect(filter.items[0]?.eventTypes).toEqual(['B', 'a', 'b', 'é']);
  });

  it('drops predicates with an empty key but keeps empty string values', () => {
    const filter = m().allPredicatesOf(P('', 1), P('k', ''), P('', 'x')).finalize();
    expect(filter.items[0]?.predicates).toEqual([P('k', '')]);
  });

  it('sorts predicates by key then canonical value and de-duplicates', () => {
    const filter = m()
      .anyPredicateOf(P('b', 2), P('a', 'z'), P('b', 1), P('a', 1), P('b', 2), P('a', null), P('a', 1.0))
      .finalize();
    // Canonical JSON text order: '"z"' < '1' < 'null'.
    expect(filter.items[0]?.predicates).toEqual([P('a', 'z'), P('a', 1), P('a', null), P('b', 1), P('b', 2)]);
  });

  it('treats objects with a different key order as duplicates', () => {
    const filter = m()
      .allPredicatesOf(
        P('o', { x: 1, y: { b: [1, 2], a: null } }),
        P('o', { y: { a: null, b: [1, 2] }, x: 1 }),
      )
      .finalize();
    expect(filter.items[0]?.predicates).toHaveLength(1);
  });

  it('keeps arrays with a different order apart (canonical JSON keeps array order)', () => {
    const filter = m()
      .allPredicatesOf(P('a', [1, 2]), P('a', [2, 1]))
      .finalize();
    expect(filter.items[0]?.predicates).toEqual([P('a', [1, 2]), P('a', [2, 1])]);
  });

  it('an item left empty is an error, never match-everything', () => {
    expect(() => m().anyEventTypeOf('', '').finalize()).toThrow(InvalidFilterError);
    expect(() => oneItem().orMatching().allPredicatesOf(P('', 1)).finalize()).toThrow(/item #2/);
    expect(() => m().anyEventTypeOf('').andAllPredicatesOf(P('', 1)).orMatching()).toThrow(
      InvalidFilterError,
    );
    expect(() => m().anyEventTypeOf('').occurredFrom(from)).toThrow(InvalidFilterError);
  });

  it('an item whose types were all empty but has predicates matches any type', () => {
    const filter = m().anyEventTypeOf('').andAnyPredicateOf(P('k', 1)).finalize();
    expect(filter.items).toEqual([item([], [P('k', 1)], false)]);
  });

  it('canonicalJson sorts object keys and nothing else', () => {
    expect(canonicalJson({ b: [3, { d: 1, c: 'x' }], a: null, é: true })).toBe(
      '{"a":null,"b":[3,{"c":"x","d":1}],"é":true}',
    );
    expect(canonicalJson(1.0)).toBe(canonicalJson(1));
    expect(canonicalJson('q"\\')).toBe('"q\\"\\\\"');
  });
});

describe('buildEventFilter: immutability', () => {
  it('branching twice from one intermediate object keeps the branches apart', () => {
    const base = oneItem().orMatching();
    const left = base.anyEventTypeOf('L').finalize();
    const right = base.allPredicatesOf(P('r', 1)).occurredFrom(from).finalize();
    expect(left).toStrictEqual({ items: [item(['A']), item(['L'])] });
    expect(right.items).toEqual([item(['A']), item([], [P('r', 1)])]);
    const typed = m().anyEventTypeOf('T');
    expect(typed.andAnyPredicateOf(P('a', 1)).finalize().items[0]?.allPredicatesMustMatch).toBe(false);
    expect(typed.andAllPredicatesOf(P('b', 1)).finalize().items[0]?.allPredicatesMustMatch).toBe(true);
    expect(typed.finalize().items[0]?.predicates).toEqual([]);
  });

  it('builders and filters are frozen all the way down', () => {
    expect(Object.isFrozen(buildEventFilter())).toBe(true);
    expect(Object.isFrozen(oneItem())).toBe(true);
    expect(Object.isFrozen(oneItem().occurredFrom(from))).toBe(true);
    const filter = oneItem()
      .andAllPredicatesOf(P('o', { n: [1, { d: 2 }] }))
      .occurredFrom(from)
      .finalize();
    const first = filter.items[0];
    const value = first?.predicates[0]?.value as { n: [number, { d: number }] };
    for (const part of [
      filter,
      filter.items,
      first,
      first?.eventTypes,
      first?.predicates,
      value,
      value.n,
      value.n[1],
    ]) {
      expect(Object.isFrozen(part)).toBe(true);
    }
    expect(Object.isFrozen(filter.occurredFrom)).toBe(true);
    expect(Object.isFrozen(buildEventFilter().matchingAnyEvent().items)).toBe(true);
  });

  it('copies dates and predicate values so later mutation by the caller changes nothing', () => {
    const start = new Date(from);
    const nested = { tags: ['a'] as string[] };
    const builder = oneItem().andAllPredicatesOf(P('o', nested)).occurredFrom(start);
    start.setTime(0);
    nested.tags.push('b');
    const filter = builder.finalize();
    expect(filter.occurredFrom).toEqual(from);
    expect(filter.items[0]?.predicates[0]?.value).toEqual({ tags: ['a'] });
    filter.occurredFrom?.setTime(0);
    expect(builder.finalize().occurredFrom).toEqual(from);
  });
});

describe('buildEventFilter: run-time validation', () => {
  const expectInvalid = (run: () => unknown, message?: RegExp) => {
    expect(run).toThrow(InvalidFilterError);
    if (message) expect(run).toThrow(message);
  };
  const anyJs = (value: unknown) => value as never;

  it('rejects event types that are not strings or not storable', () => {
    expectInvalid(() => m().anyEventTypeOf('A', anyJs(3)), /event type #2 is not a string/);
    expectInvalid(() => m().anyPredicateOf(P('k', 1)).andAnyEventTypeOf(anyJs(null)));
    expectInvalid(() => m().anyEventTypeOf('a\u0000b'), /NUL/);
    expectInvalid(() => m().anyEventTypeOf('\ud800'), /lone surrogate/);
  });

  it('rejects invalid dates, reversed bounds and bad sequence numbers', () => {
    expectInvalid(() => buildEventFilter().occurredFrom(new Date('nope')), /valid Date/);
    expectInvalid(() => oneItem().occurredUntil(anyJs('2024-01-01')), /valid Date/);
    expectInvalid(() => oneItem().occurredFrom(until).andOccurredUntil(from), /earlier than occurredFrom/);
    expectInvalid(() => buildEventFilter().withSequenceNumberHigherThan(-1n), /between 0/);
    expectInvalid(() => oneItem().withSequenceNumberHigherThan(2n ** 63n));
    expect(
      oneItem()
        .withSequenceNumberHigherThan(2n ** 63n - 1n)
        .finalize().sequenceNumberHigherThan,
    ).toBe(2n ** 63n - 1n);
  });

  it('rejects things that are not predicates', () => {
    expectInvalid(() => m().anyPredicateOf(anyJs('k')), /predicate #1 is not a predicate/);
    expectInvalid(() => m().allPredicatesOf(anyJs({ key: 1, value: 1 })), /no string key/);
  });

  it('rejects values that are not JSON, naming the key but never the value', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const sparse: unknown[] = [1];
    sparse[2] = 3;
    const bad: [unknown, RegExp][] = [
      [Number.NaN, /not finite/],
      [Number.POSITIVE_INFINITY, /not finite/],
      [undefined, /not JSON: it holds a value of type undefined/],
      [10n, /bigint/],
      [() => 1, /function/],
      [new Date(), /not a plain object/],
      [new Map(), /not a plain object/],
      [{ a: undefined }, /undefined/],
      [sparse, /sparse/],
      [cyclic, /circular/],
      ['secret\u0000value', /NUL/],
      [{ nested: ['x\udc00y'] }, /lone surrogate/],
      [{ 'bad\u0000key': 1 }, /object key that contains a NUL/],
    ];
    for (const [value, message] of bad) {
      const run = () => m().allPredicatesOf(P('amount', value as JsonValue));
      expectInvalid(run, message);
      expectInvalid(run, /predicate "amount"/);
      expect(run).not.toThrow(/secret/);
    }
    expectInvalid(() => m().allPredicatesOf(P('', Number.NaN)), /predicate ""/);
    expectInvalid(() => m().allPredicatesOf(P('k\u0000', 1)), /predicate key "k\\u0000"/);
  });

  it('accepts every kind of JSON value, including a shared (non-circular) sub-object and a __proto__ key', () => {
    const shared = { s: 1 };
    const proto = JSON.parse('{"__proto__": {"x": 1}}') as JsonValue;
    const filter = m()
      .allPredicatesOf(
        P('a', [shared, shared]),
        P('b', proto),
        P('c', Object.create(null) as JsonValue),
        P('d', -0),
      )
      .finalize();
    const values = filter.items[0]?.predicates.map((predicate) => predicate.value);
    expect(values?.[0]).toEqual([{ s: 1 }, { s: 1 }]);
    expect(Object.keys(values?.[1] as object)).toEqual(['__proto__']);
    expect(Object.getPrototypeOf(values?.[1])).toBe(Object.prototype);
  });
});
