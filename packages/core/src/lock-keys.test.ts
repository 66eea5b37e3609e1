import { describe, expect, it } from 'vitest';
import { type EventFilter, P, type Predicate } from './filter.js';
import { buildEventFilter } from './filter-builder.js';
import { matchesFilter } from './filter-match.js';
import { appendLocks, type LockSet, readLocks } from './lock-keys.js';
import { buildStorableEvent, type StorableEvent } from './storable-event.js';

/** True when two lock sets cannot be held at the same time: a common key, exclusive on one side. */
function conflict(a: LockSet, b: LockSet): boolean {
  const all = (set: LockSet) => new Set([...set.exclusive, ...set.shared]);
  const [allA, allB] = [all(a), all(b)];
  return a.exclusive.some((key) => allB.has(key)) || b.exclusive.some((key) => allA.has(key));
}

// A deterministic pseudo-random generator, so a failure is reproducible.
function random(seed: number) {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
}

const TYPES = ['Added', 'Lent', 'Returned'];
const VALUES = [
  'a',
  'b',
  1,
  1.5,
  true,
  null,
  { nested: 'x' },
  { nested: 'y', more: 2 },
  [1, 2],
  [2],
] as const;
const KEYS = ['BookID', 'ReaderID', 'Shelf'];

function randomEvent(next: () => number): StorableEvent {
  const payload: Record<string, unknown> = {};
  for (const key of KEYS) if (next() < 0.7) payload[key] = VALUES[Math.floor(next() * VALUES.length)];
  return buildStorableEvent({
    type: TYPES[Math.floor(next() * TYPES.length)] as string,
    occurredAt: new Date(0),
    payload: payload as never,
  });
}

function randomPredicates(next: () => number): [Predicate, ...Predicate[]] {
  const pick = () =>
    P(KEYS[Math.floor(next() * KEYS.length)] as string, VALUES[Math.floor(next() * VALUES.length)] as never);
  return next() < 0.5 ? [pick()] : [pick(), pick()];
}

function randomFilter(next: () => number): EventFilter {
  if (next() < 0.05) return buildEventFilter().matchingAnyEvent();
  let builder = buildEventFilter().matching();
  const items = 1 + Math.floor(next() * 2);
  for (let index = 0; ; index++) {
    const shape = Math.floor(next() * 5);
    const types = [TYPES[Math.floor(next() * TYPES.length)] as string] as [string];
    const completed =
      shape === 0
        ? builder.anyEventTypeOf(...types)
        : shape === 1
          ? builder.anyPredicateOf(...randomPredicates(next))
          : shape === 2
            ? builder.allPredicatesOf(...randomPredicates(next))
            : shape === 3
              ? builder.anyEventTypeOf(...types).andAnyPredicateOf(...randomPredicates(next))
              : builder.anyEventTypeOf(...types).andAllPredicatesOf(...randomPredicates(next));
    if (index + 1 === items) return completed.finalize();
    builder = completed.orMatching();
  }
}

describe('lock keys', () => {
  it('every event matching a filter conflicts with its reads and guards (randomised, 20,000 pairs)', () => {
    const next = random(42);
    let matching = 0;
    for (let round = 0; round < 20_000; round++) {
      const filter = randomFilter(next);
      const event = randomEvent(next);
      if (!matchesFilter(filter, event)) continue;
      matching++;
      const writer = appendLocks(randomFilter(next), [event]);
      expect(conflict(writer, readLocks(filter)), 'writer vs strong read').toBe(true);
      expect(conflict(writer, appendLocks(filter, [randomEvent(next)])), 'writer vs guard').toBe(true);
    }
    expect(matching).toBeGreaterThan(2_000);
  });

  it('two appends with the same filter always conflict', () => {
    const next = random(7);
    for (let round = 0; round < 1_000; round++) {
      const filter = randomFilter(next);
      expect(
        conflict(appendLocks(filter, [randomEvent(next)]), appendLocks(filter, [randomEvent(next)])),
      ).toBe(true);
    }
  });

  it('strong reads of one boundary do not block each other', () => {
    const filter = buildEventFilter()
      .matching()
      .anyEventTypeOf('Lent')
      .andAllPredicatesOf(P('BookID', 'b-1'))
      .finalize();
    expect(conflict(readLocks(filter), readLocks(filter))).toBe(false);
  });

  it('writers of disjoint boundaries share only coarse keys, and only in shared mode', () => {
    const lend = (book: string) =>
      appendLocks(
        buildEventFilter().matching().anyEventTypeOf('Lent').andAllPredicatesOf(P('BookID', book)).finalize(),
        [buildStorableEvent({ type: 'Lent', occurredAt: new Date(0), payload: { BookID: book } })],
      );
    expect(conflict(lend('b-1'), lend('b-2'))).toBe(false);
  });

  it('distinguishes value kinds as jsonb does, and treats 1 and 1.0 as one value', () => {
    const keys = (value: unknown) =>
      appendLocks(buildEventFilter().matchingAnyEvent(), [
        buildStorableEvent({ type: 'T', occurredAt: new Date(0), payload: { k: value as never } }),
      ]).exclusive;
    expect(keys(1)).toEqual(keys(1.0));
    expect(keys('1')).not.toEqual(keys(1));
    expect(keys({ a: 1 })).toEqual(keys({ b: 2 }));
    expect(keys([1])).not.toEqual(keys({ a: 1 }));
  });
});
