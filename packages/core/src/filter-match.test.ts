import { describe, expect, it } from 'vitest';
import type { JsonValue } from './filter.js';
import { P } from './filter.js';
import { buildEventFilter } from './filter-builder.js';
import { jsonContains, type MatchableEvent, matchesFilter } from './filter-match.js';

describe('jsonContains: scalars', () => {
  it('equal scalars of the same JSON type', () => {
    expect(jsonContains(1, 1)).toBe(true);
    expect(jsonContains(1, 1.0)).toBe(true);
    expect(jsonContains(0, -0)).toBe(true);
    expect(jsonContains(1.5, 1.5)).toBe(true);
    expect(jsonContains(1, 2)).toBe(false);
    expect(jsonContains(1, '1')).toBe(false);
    expect(jsonContains('a', 'a')).toBe(true);
    expect(jsonContains('a', 'A')).toBe(false);
    expect(jsonContains(true, true)).toBe(true);
    expect(jsonContains(true, false)).toBe(false);
    expect(jsonContains(false, null)).toBe(false);
    expect(jsonContains(0, false)).toBe(false);
    expect(jsonContains('', null)).toBe(false);
    expect(jsonContains(null, null)).toBe(true);
  });

  it('strings compare exactly, with quotes, backslashes and unicode', () => {
    for (const text of [
      `it's`,
      'say "hi"',
      'back\\slash',
      'ünïcødé 日本 🚀',
      '',
      "'; DROP TABLE events; --",
    ]) {
      expect(jsonContains({ k: text }, { k: text })).toBe(true);
    }
    expect(jsonContains({ k: 'é' }, { k: 'e\u0301' })).toBe(false); // no unicode normalisation
    expect(jsonContains({ k: 'a\\b' }, { k: 'a\\\\b' })).toBe(false);
    expect(jsonContains({ k: 'abc' }, { k: 'ab' })).toBe(false);
  });
});

describe('jsonContains: objects', () => {
  it('every key of the contained object, with a contained value', () => {
    expect(jsonContains({ a: 1, b: 2 }, { a: 1 })).toBe(true);
    expect(jsonContains({ a: 1, b: 2 }, {})).toBe(true);
    expect(jsonContains({}, {})).toBe(true);
    expect(jsonContains({ a: 1 }, { a: 1, b: 2 })).toBe(false);
    expect(jsonContains({ a: 1 }, { b: 1 })).toBe(false);
    expect(jsonContains({ a: null }, { a: null })).toBe(true);
    expect(jsonContains({}, { a: null })).toBe(false);
  });

  it('nested objects contain partially, at any depth', () => {
    const doc = { book: { id: 'b-1', meta: { year: 2001, tags: ['x', 'y'] } }, n: 3 };
    expect(jsonContains(doc, { book: { id: 'b-1' } })).toBe(true);
    expect(jsonContains(doc, { book: { meta: { year: 2001 } } })).toBe(true);
    expect(jsonContains(doc, { book: { meta: { tags: ['y'] } } })).toBe(true);
    expect(jsonContains(doc, { book: {} })).toBe(true);
    expect(jsonContains(doc, { book: { meta: { year: 2002 } } })).toBe(false);
    expect(jsonContains(doc, { book: 'b-1' })).toBe(false);
    expect(jsonContains(doc, { n: {} })).toBe(false);
  });

  it('keys are own keys only, including one named __proto__', () => {
    expect(jsonContains({}, { toString: {} } as JsonValue)).toBe(false);
    const withProto = JSON.parse('{"__proto__": {"x": 1}}') as JsonValue;
    expect(jsonContains(withProto, withProto)).toBe(true);
    expect(jsonContains({}, withProto)).toBe(false);
  });
});

describe('jsonContains: arrays', () => {
  it('every contained element is in some container element; order and duplicates ignored', () => {
    expect(jsonContains([1, 2, 3], [3, 1])).toBe(true);
    expect(jsonContains([1, 2, 3], [1, 1, 1])).toBe(true);
    expect(jsonContains([1], [1, 2])).toBe(false);
    expect(jsonContains([1, 2], [])).toBe(true);
    expect(jsonContains([], [])).toBe(true);
    expect(jsonContains([], [1])).toBe(false);
    expect(jsonContains([{ a: 1, b: 2 }, { c: 3 }], [{ a: 1 }, { c: 3 }])).toBe(true);
    expect(jsonContains([{ a: 1 }], [{ a: 1, b: 2 }])).toBe(false);
    expect(jsonContains([[1, 2], [3]], [[2], [3]])).toBe(true);
    expect(jsonContains([[1, 2]], [1])).toBe(false);
    expect(jsonContains([{ a: 1 }], [[]])).toBe(false);
    expect(jsonContains([[]], [{}])).toBe(false);
  });

  it('a scalar is in an array only at the top level', () => {
    expect(jsonContains([1, 2], 1)).toBe(true);
    expect(jsonContains(['a', null], null)).toBe(true);
    expect(jsonContains([[1]], 1)).toBe(false);
    expect(jsonContains(1, [1])).toBe(false);
    expect(jsonContains({ k: [1, 2] }, { k: 1 })).toBe(false);
    expect(jsonContains({ k: [1, 2] }, { k: [1] })).toBe(true);
    expect(jsonContains({ k: 1 }, { k: [1] })).toBe(false);
    expect(jsonContains([1, [2]], [2])).toBe(false);
  });

  it('arrays and objects never contain each other', () => {
    expect(jsonContains({}, [])).toBe(false);
    expect(jsonContains([], {})).toBe(false);
    expect(jsonContains({ k: [] }, { k: {} })).toBe(false);
    expect(jsonContains({ a: 1 }, 1)).toBe(false);
  });
});

const at = (iso: string) => new Date(iso);
const event = (over: Partial<MatchableEvent> = {}): MatchableEvent => ({
  type: 'BookCopyLentToReader',
  occurredAt: at('2024-06-01T12:00:00.000Z'),
  payload: { bookId: 'b-1', readerId: 'r-1', copies: 2, tags: ['new', 'sci-fi'] },
  sequenceNumber: 5n,
  ...over,
});

describe('matchesFilter', () => {
  it('matchingAnyEvent matches everything', () => {
    expect(matchesFilter(buildEventFilter().matchingAnyEvent(), event())).toBe(true);
    expect(matchesFilter(buildEventFilter().matchingAnyEvent(), event({ payload: {} }))).toBe(true);
  });

  it('event types join by OR', () => {
    const types = (...t: [string, ...string[]]) =>
      buildEventFilter()
        .matching()
        .anyEventTypeOf(...t)
        .finalize();
    expect(matchesFilter(types('BookCopyLentToReader'), event())).toBe(true);
    expect(matchesFilter(types('X', 'BookCopyLentToReader'), event())).toBe(true);
    expect(matchesFilter(types('X', 'Y'), event())).toBe(false);
    expect(matchesFilter(types('bookcopylenttoreader'), event())).toBe(false);
  });

  it('predicates by AND or OR, with types', () => {
    const all = buildEventFilter()
      .matching()
      .allPredicatesOf(P('bookId', 'b-1'), P('readerId', 'r-2'))
      .finalize();
    const any = buildEventFilter()
      .matching()
      .anyPredicateOf(P('bookId', 'b-1'), P('readerId', 'r-2'))
      .finalize();
    expect(matchesFilter(all, event())).toBe(false);
    expect(matchesFilter(any, event())).toBe(true);
    const typed = buildEventFilter().matching().anyEventTypeOf('Other').andAnyPredicateOf(P('bookId', 'b-1'));
    expect(matchesFilter(typed.finalize(), event())).toBe(false);
    expect(
      matchesFilter(buildEventFilter().matching().anyPredicateOf(P('missing', null)).finalize(), event()),
    ).toBe(false);
  });

  it('predicates use jsonb containment on the value', () => {
    const pred = (key: string, value: JsonValue) =>
      matchesFilter(buildEventFilter().matching().allPredicatesOf(P(key, value)).finalize(), event());
    expect(pred('copies', 2.0)).toBe(true);
    expect(pred('copies', '2')).toBe(false);
    expect(pred('tags', ['sci-fi'])).toBe(true);
    expect(pred('tags', 'sci-fi')).toBe(false);
    expect(pred('tags', [])).toBe(true);
  });

  it('items join by OR', () => {
    const filter = buildEventFilter()
      .matching()
      .anyEventTypeOf('Nope')
      .orMatching()
      .allPredicatesOf(P('readerId', 'r-1'))
      .finalize();
    expect(matchesFilter(filter, event())).toBe(true);
    expect(matchesFilter(filter, event({ payload: { readerId: 'r-2' } }))).toBe(false);
  });

  it('time bounds are inclusive', () => {
    const lent = event().occurredAt;
    const between = (a: Date, b: Date) =>
      matchesFilter(buildEventFilter().occurredFrom(a).andOccurredUntil(b).finalize(), event());
    expect(between(lent, lent)).toBe(true);
    expect(between(new Date(lent.getTime() + 1), at('2030-01-01'))).toBe(false);
    expect(between(at('2000-01-01'), new Date(lent.getTime() - 1))).toBe(false);
    expect(matchesFilter(buildEventFilter().occurredFrom(lent).finalize(), event())).toBe(true);
    expect(matchesFilter(buildEventFilter().occurredUntil(lent).finalize(), event())).toBe(true);
  });

  it('the sequence bound is exclusive and ignored without a sequence number', () => {
    const above = (n: bigint) =>
      buildEventFilter()
        .matching()
        .anyEventTypeOf('BookCopyLentToReader')
        .withSequenceNumberHigherThan(n)
        .finalize();
    expect(matchesFilter(above(4n), event())).toBe(true);
    expect(matchesFilter(above(5n), event())).toBe(false);
    expect(matchesFilter(above(0n), event({ sequenceNumber: 1n }))).toBe(true);
    const { sequenceNumber: _, ...unpositioned } = event();
    expect(matchesFilter(above(100n), unpositioned)).toBe(true);
  });

  it('bounds apply on top of the items', () => {
    const filter = buildEventFilter()
      .matching()
      .anyEventTypeOf('BookCopyLentToReader')
      .occurredFrom(at('2025-01-01'))
      .finalize();
    expect(matchesFilter(filter, event())).toBe(false);
    expect(matchesFilter(filter, event({ occurredAt: at('2025-01-01') }))).toBe(true);
  });
});
