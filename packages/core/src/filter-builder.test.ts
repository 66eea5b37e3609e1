import { describe, expect, expectTypeOf, it } from 'vitest';
import { InvalidFilterError } from './errors.js';
import type { EventFilter, JsonValue, Predicate } from './filter.js';
import { P } from './filter.js';
import {
  buildEventFilter,
  type CompletedFilterItemBuilder,
  type EmptyFilterItemBuilder,
  type FilterItemBuilderLackingEventTypes,
  type FilterItemBuilderLackingPredicates,
  type FinalFilterBuilder,
  type OccurredFromFilterBuilder,
} from './filter-builder.js';
import { canonicalJson } from './json-value.js';

const from = new Date('2024-01-01T00:00:00.000Z');
const until = new Date('2024-12-31T23:59:59.999Z');
const item = (eventTypes: string[], predicates: Predicate[] = [], allPredicatesMustMatch = true) => ({
  eventTypes,
  predicates,
  allPredicatesMustMatch,
});
const m = () => buildEventFilter().matching();
const oneItem = () => m().anyEventTypeOf('A');
/** The items of the filter a builder finalizes to. */
const itemsOf = (builder: { finalize(): EventFilter }) => builder.finalize().items;
/** The predicates of the first item of the filter a builder finalizes to. */
const predicatesOf = (builder: { finalize(): EventFilter }) => itemsOf(builder)[0]?.predicates;
const deepFrozen = (value: unknown): boolean =>
  typeof value !== 'object' ||
  value === null ||
  (Object.isFrozen(value) && Object.values(value).every(deepFrozen));

describe('buildEventFilter: state transitions', () => {
  it('matchingAnyEvent has no items and no bounds', () => {
    expect(buildEventFilter().matchingAnyEvent()).toStrictEqual({ items: [] });
  });

  it('bounds straight from the root give a filter with no items', () => {
    const root = buildEventFilter();
    expect(root.occurredFrom(from).finalize()).toStrictEqual({ items: [], occurredFrom: from });
    const both = root.occurredFrom(from).andOccurredUntil(until).finalize();
    expect(both).toStrictEqual({ items: [], occurredFrom: from, occurredUntil: until });
    expect(root.occurredUntil(until).finalize()).toStrictEqual({ items: [], occurredUntil: until });
    const above = root.withSequenceNumberHigherThan(7n).finalize();
    expect(above).toStrictEqual({ items: [], sequenceNumberHigherThan: 7n });
  });

  it('types only, types then predicates (any / all)', () => {
    expect(itemsOf(oneItem())).toEqual([item(['A'])]);
    const any = oneItem().andAnyPredicateOf(P('k', 1), P('j', 2));
    expect(itemsOf(any)).toEqual([item(['A'], [P('j', 2), P('k', 1)], false)]);
    expect(itemsOf(oneItem().andAllPredicatesOf(P('k', 1)))).toEqual([item(['A'], [P('k', 1)], true)]);
  });

  it('predicates only, predicates then types', () => {
    const any = m().anyPredicateOf(P('k', 'v'));
    expect(itemsOf(any)).toEqual([item([], [P('k', 'v')], false)]);
    expect(itemsOf(any.andAnyEventTypeOf('B', 'A'))).toEqual([item(['A', 'B'], [P('k', 'v')], false)]);
    const all = m().allPredicatesOf(P('k', 'v'));
    expect(itemsOf(all)).toEqual([item([], [P('k', 'v')], true)]);
    expect(itemsOf(all.andAnyEventTypeOf('A'))).toEqual([item(['A'], [P('k', 'v')], true)]);
  });

  it('orMatching joins items in order', () => {
    const builder = oneItem().orMatching().allPredicatesOf(P('x', true)).orMatching().anyEventTypeOf('C');
    expect(itemsOf(builder)).toEqual([item(['A']), item([], [P('x', true)]), item(['C'])]);
  });

  it('bounds after an item, from every item state', () => {
    const both = oneItem().occurredFrom(from).andOccurredUntil(until).finalize();
    expect(both).toStrictEqual({ items: [item(['A'])], occurredFrom: from, occurredUntil: until });
    expect(oneItem().andAllPredicatesOf(P('k', 1)).occurredFrom(from).finalize().occurredFrom).toEqual(from);
    const lackingTypes = m().anyPredicateOf(P('k', 1));
    expect(lackingTypes.occurredUntil(until).finalize().occurredUntil).toEqual(until);
    expect(lackingTypes.withSequenceNumberHigherThan(0n).finalize().sequenceNumberHigherThan).toBe(0n);
    const above = oneItem().withSequenceNumberHigherThan(3n).finalize();
    expect(above).toStrictEqual({ items: [item(['A'])], sequenceNumberHigherThan: 3n });
  });

  it('an equal lower and upper time bound is allowed', () => {
    const filter = oneItem().occurredFrom(from).andOccurredUntil(new Date(from)).finalize();
    expect(filter.occurredUntil).toEqual(from);
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
    expectTypeOf(m().anyPredicateOf(P('k', 1))).toEqualTypeOf<FilterItemBuilderLackingEventTypes>();
    expectTypeOf(oneItem().andAnyPredicateOf(P('k', 1))).toEqualTypeOf<CompletedFilterItemBuilder>();
    expectTypeOf(oneItem().occurredFrom(from).andOccurredUntil(until)).toEqualTypeOf<FinalFilterBuilder>();
    expectTypeOf<OccurredFromFilterBuilder>().not.toHaveProperty('withSequenceNumberHigherThan');
    expectTypeOf<FinalFilterBuilder>().not.toHaveProperty('orMatching');
  });

  it('invalid orders do not compile and fail at run time too', () => {
    const d = new Date();
    // @ts-expect-error an empty item cannot be finalized
    expect(() => buildEventFilter().matching().finalize()).toThrow(TypeError);
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
    // @ts-expect-error predicates first, then types: not predicates again
    expect(() => m().allPredicatesOf(P('k', 1)).andAnyPredicateOf(P('j', 1))).toThrow(TypeError);
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
    const types = itemsOf(m().anyEventTypeOf('b', '', 'a', 'B', 'b', 'é', 'a', ''))[0]?.eventTypes;
    expect(types).toEqual(['B', 'a', 'b', 'é']);
  });

  it('drops predicates with an empty key but keeps empty string values', () => {
    expect(predicatesOf(m().allPredicatesOf(P('', 1), P('k', ''), P('', 'x')))).toEqual([P('k', '')]);
  });

  it('sorts predicates by key then canonical value and de-duplicates', () => {
    const builder = m().anyPredicateOf(P('b', 2), P('a', 'z'), P('b', 1), P('a', 1), P('b', 2), P('a', null));
    // Canonical JSON text order: '"z"' < '1' < 'null'.
    expect(predicatesOf(builder)).toEqual([P('a', 'z'), P('a', 1), P('a', null), P('b', 1), P('b', 2)]);
    expect(predicatesOf(m().anyPredicateOf(P('n', 1), P('n', 1.0)))).toEqual([P('n', 1)]);
  });

  it('treats objects with a different key order as duplicates', () => {
    const first = P('o', { x: 1, y: { b: [1, 2], a: null } });
    const second = P('o', { y: { a: null, b: [1, 2] }, x: 1 });
    expect(predicatesOf(m().allPredicatesOf(first, second))).toEqual([first]);
  });

  it('keeps arrays with a different order apart (canonical JSON keeps array order)', () => {
    const predicates = predicatesOf(m().allPredicatesOf(P('a', [2, 1]), P('a', [1, 2])));
    expect(predicates).toEqual([P('a', [1, 2]), P('a', [2, 1])]);
  });

  it('an item left empty is an error, never match-everything', () => {
    expect(() => m().anyEventTypeOf('', '').finalize()).toThrow(InvalidFilterError);
    expect(() => oneItem().orMatching().allPredicatesOf(P('', 1)).finalize()).toThrow(/item #2/);
    const empty = m().anyEventTypeOf('').andAllPredicatesOf(P('', 1));
    expect(() => empty.orMatching()).toThrow(InvalidFilterError);
    expect(() => m().anyEventTypeOf('').occurredFrom(from)).toThrow(InvalidFilterError);
    expect(() => m().anyPredicateOf(P('', 1)).withSequenceNumberHigherThan(1n)).toThrow(InvalidFilterError);
  });

  it('an item whose types were all empty but has predicates matches any type', () => {
    expect(itemsOf(m().anyEventTypeOf('').andAnyPredicateOf(P('k', 1)))).toEqual([
      item([], [P('k', 1)], false),
    ]);
  });

  it('canonicalJson sorts object keys and nothing else', () => {
    const text = '{"a":null,"b":[3,{"c":"x","d":1}],"é":true}';
    expect(canonicalJson({ b: [3, { d: 1, c: 'x' }], a: null, é: true })).toBe(text);
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
    expect(itemsOf(typed.andAnyPredicateOf(P('a', 1)))[0]?.allPredicatesMustMatch).toBe(false);
    expect(itemsOf(typed.andAllPredicatesOf(P('b', 1)))[0]?.allPredicatesMustMatch).toBe(true);
    expect(itemsOf(typed)).toEqual([item(['T'])]);
    const bounded = oneItem().occurredFrom(from);
    expect(bounded.andOccurredUntil(until).finalize().occurredUntil).toEqual(until);
    expect(bounded.finalize()).toStrictEqual({ items: [item(['A'])], occurredFrom: from });
  });

  it('builders and filters are frozen all the way down', () => {
    expect(Object.isFrozen(buildEventFilter())).toBe(true);
    expect(Object.isFrozen(m())).toBe(true);
    expect(Object.isFrozen(oneItem())).toBe(true);
    expect(Object.isFrozen(oneItem().andAnyPredicateOf(P('k', 1)))).toBe(true);
    expect(Object.isFrozen(oneItem().occurredFrom(from))).toBe(true);
    expect(Object.isFrozen(oneItem().occurredUntil(from))).toBe(true);
    const filter = oneItem()
      .andAllPredicatesOf(P('o', { n: [1, { d: [2] }] }))
      .occurredFrom(from)
      .finalize();
    expect(deepFrozen(filter)).toBe(true);
    expect(Object.isFrozen(filter.occurredFrom)).toBe(true);
    expect(deepFrozen(buildEventFilter().matchingAnyEvent())).toBe(true);
    expect(deepFrozen(buildEventFilter().withSequenceNumberHigherThan(1n).finalize())).toBe(true);
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
  const fromJs = (value: unknown) => value as never;

  it('rejects event types that are not strings or not storable', () => {
    expectInvalid(() => m().anyEventTypeOf('A', fromJs(3)), /event type #2 is not a string/);
    expectInvalid(() => m().anyPredicateOf(P('k', 1)).andAnyEventTypeOf(fromJs(null)), /#1 is not a string/);
    expectInvalid(() => m().anyEventTypeOf('a\u0000b'), /NUL/);
    expectInvalid(() => m().anyEventTypeOf('\ud800'), /lone surrogate/);
  });

  it('rejects invalid dates, reversed bounds and bad sequence numbers', () => {
    expectInvalid(() => buildEventFilter().occurredFrom(new Date('nope')), /valid Date/);
    expectInvalid(() => oneItem().occurredUntil(fromJs('2024-01-01')), /valid Date/);
    expectInvalid(() => oneItem().occurredFrom(from).andOccurredUntil(fromJs(undefined)), /valid Date/);
    expectInvalid(() => oneItem().occurredFrom(until).andOccurredUntil(from), /earlier than occurredFrom/);
    expectInvalid(() => buildEventFilter().withSequenceNumberHigherThan(-1n), /between 0/);
    expectInvalid(() => oneItem().withSequenceNumberHigherThan(2n ** 63n));
    const max = 2n ** 63n - 1n;
    expect(oneItem().withSequenceNumberHigherThan(max).finalize().sequenceNumberHigherThan).toBe(max);
  });

  it('rejects things that are not predicates', () => {
    expectInvalid(() => m().anyPredicateOf(fromJs('k')), /predicate #1 is not a predicate/);
    expectInvalid(() => m().allPredicatesOf(fromJs({ key: 1, value: 1 })), /no string key/);
    expectInvalid(() => oneItem().andAnyPredicateOf(P('k', 1), fromJs(null)), /predicate #2/);
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

  it('accepts every kind of JSON value, a shared (non-circular) sub-object and a __proto__ key', () => {
    const shared = { s: 1 };
    const proto = JSON.parse('{"__proto__": {"x": 1}}') as JsonValue;
    const nullProto = Object.create(null) as JsonValue;
    const builder = m().allPredicatesOf(
      P('a', [shared, shared]),
      P('b', proto),
      P('c', nullProto),
      P('d', -0),
    );
    const values = predicatesOf(builder)?.map((predicate) => predicate.value);
    expect(values?.[0]).toEqual([{ s: 1 }, { s: 1 }]);
    expect(Object.keys(values?.[1] as object)).toEqual(['__proto__']);
    expect(Object.getPrototypeOf(values?.[1])).toBe(Object.prototype);
    expect(values?.slice(2)).toEqual([{}, 0]);
  });
});
