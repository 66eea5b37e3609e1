import { buildEventFilter, buildStorableEvent, type EventFilter, P, type StorableEvent } from '@es/core';
import { expect } from 'vitest';
import { expectFailure, expectThrowsNow } from '../expectations.js';
import { ADDED, appendLibrary, BOOK_1, bookEvent, LENT } from '../fixtures.js';
import type { ConformanceSuite, RegisterTest } from '../suite-context.js';

/** SPEC §3.4, injection: attacks in keys, values, types and table names do nothing but fail or match nothing. */

function attacksOn(table: string, canary: string): string[] {
  return [
    "' OR '1'='1",
    "' OR 1=1 --",
    `'; DROP TABLE ${table}; --`,
    `"; DROP TABLE ${canary}; --`,
    `${BOOK_1}' OR 'x'='x`,
    `'); DELETE FROM ${table}; --`,
    `\\'); DROP TABLE ${canary}; --`,
    "' || (SELECT current_user) || '",
    '$1',
    '$2::jsonb',
    '%L %I %s',
    '*/ DROP TABLE x; /*',
    '{items,0,types,0}',
    '") OR TRUE --',
  ];
}

/** A JSON value nested `depth` levels deep: `{"n": {"n": ... 1}}`. */
export function nested(depth: number): Record<string, unknown> {
  let value: Record<string, unknown> = { n: 1 };
  for (let level = 1; level < depth; level++) value = { n: value };
  return value;
}

/** The JSON text of `nested(depth)`, written without recursion (JSON.stringify would exhaust the stack). */
const nestedText = (depth: number) => `${'{"n":'.repeat(depth)}1${'}'.repeat(depth)}`;

/** Raw input for events that must be refused: each breaks one rule of a storable event. */
const INVALID_EVENTS: readonly [problem: string, input: Record<string, unknown>][] = [
  ['an empty type', { type: '' }],
  ['a type that is not a string', { type: 42 }],
  ['a NUL character in the type', { type: 'Book\u0000Added' }],
  ['an invalid date (NaN)', { occurredAt: new Date(Number.NaN) }],
  ['occurredAt that is not a Date', { occurredAt: '2024-01-01T00:00:00Z' }],
  ['a payload that is an array', { payload: [1, 2] }],
  ['a payload that is a string but not JSON text', { payload: '{BookID: x}' }],
  ['a payload that is JSON text of an array', { payload: '[1, 2]' }],
  ['a payload that is null', { payload: null }],
  ['a bigint in the payload', { payload: { copies: 1n } }],
  ['a NUL character in a payload string', { payload: { BookID: 'a\u0000b' } }],
  ['a NUL character in a payload key', { payload: { 'Book\u0000ID': 'x' } }],
  ['a lone surrogate in a payload string', { payload: { BookID: 'a\ud800b' } }],
  ['NaN in the payload', { payload: { copies: Number.NaN } }],
  ['Infinity in the payload', { payload: { copies: Number.POSITIVE_INFINITY } }],
  ['undefined in the payload', { payload: { copies: undefined } }],
  ['a function in the payload', { payload: { copies: () => 1 } }],
  ['metadata that is not an object', { metadata: 'trace-1' }],
  ['a bigint in the metadata', { metadata: { trace: 1n } }],
  ['a payload nested 10,000 deep', { payload: nested(10_000) }],
  ['metadata nested 10,000 deep', { metadata: nested(10_000) }],
  ['a payload as JSON text nested 10,000 deep', { payload: nestedText(10_000) }],
  ['occurredAt in year 10000', { occurredAt: new Date(Date.UTC(10000, 0, 1)) }],
  ['occurredAt in 1 BC (year 0)', { occurredAt: new Date('0000-06-01T00:00:00Z') }],
  ['an event type of 3,000 bytes', { type: 'T'.repeat(3000) }],
  [
    'a payload as JSON text with an integer beyond 2^53',
    { payload: '{"BookID": "b", "copies": 9007199254740993}' },
  ],
  ['a payload as JSON text with a number below the smallest double', { payload: '{"tiny": 1e-400}' }],
];

const invalidInput = (override: Record<string, unknown>) => ({
  type: ADDED,
  occurredAt: new Date(Date.UTC(2024, 0, 1)),
  payload: { BookID: BOOK_1 },
  metadata: {},
  ...override,
});

export function injectionAndInvalidEvents<H>(suite: ConformanceSuite<H>, test: RegisterTest): void {
  test('injection attempts in predicate keys, values and event types match nothing and change nothing', async () => {
    const { store, table, tableName } = await suite.newStore('single');
    await appendLibrary(store);
    const canary = `"${tableName}_canary"`;
    await suite.raw.query(`CREATE TABLE ${canary} (id int); INSERT INTO ${canary} VALUES (1)`);
    const before = await suite.raw.events(table);
    const match = () => buildEventFilter().matching();
    for (const attack of attacksOn(table, canary)) {
      const filters: EventFilter[] = [
        match().allPredicatesOf(P('BookID', attack)).finalize(),
        match().anyPredicateOf(P('BookID', attack), P('ReaderID', attack)).finalize(),
        match().allPredicatesOf(P(attack, BOOK_1)).finalize(),
        match().anyPredicateOf(P(attack, attack)).finalize(),
        match().anyEventTypeOf(attack).finalize(),
        match().anyEventTypeOf(attack, LENT).andAllPredicatesOf(P('BookID', attack)).finalize(),
        match()
          .allPredicatesOf(P('BookID', { [attack]: attack }))
          .finalize(),
      ];
      for (const filter of filters) {
        const result = await store.query(undefined, filter);
        expect(result.events, `attack ${JSON.stringify(attack)}`).toEqual([]);
        expect(result.maxSequenceNumber).toBe(0n);
      }
    }
    expect(await suite.raw.relationExists(table)).toBe(true);
    expect(await suite.raw.events(table)).toEqual(before);
    expect(await suite.raw.count(canary)).toBe(1);
  });

  test('injection attempts stored as types, keys and values come back verbatim and match only themselves', async () => {
    const { store, table, tableName } = await suite.newStore('single');
    const canary = `"${tableName}_canary"`;
    await suite.raw.query(`CREATE TABLE ${canary} (id int)`);
    const attacks = attacksOn(table, canary);
    for (const attack of attacks) {
      const filter = buildEventFilter()
        .matching()
        .anyEventTypeOf(attack)
        .andAllPredicatesOf(P(attack, attack))
        .finalize();
      const { sequenceNumbers } = await store.append(
        undefined,
        filter,
        0n,
        bookEvent(attack, { [attack]: attack }),
      );
      const result = await store.query(undefined, filter);
      expect(result.events.map((event) => event.sequenceNumber)).toEqual(sequenceNumbers);
      expect(result.events[0]?.type).toBe(attack);
      expect(result.events[0]?.payload).toEqual({ [attack]: attack });
    }
    const stored = await suite.raw.events(table);
    expect(stored.map((event) => event.type)).toEqual(attacks);
    expect(stored.map((event) => event.payload)).toEqual(attacks.map((attack) => ({ [attack]: attack })));
    expect(await suite.raw.relationExists(canary)).toBe(true);
  });

  test('injection attempts in table names fail at construction; nothing is dropped or created', async () => {
    const { store, table, tableName } = await suite.newStore('single');
    await appendLibrary(store);
    const names = [
      `${tableName}; DROP TABLE ${tableName}`,
      `${tableName}"; DROP TABLE "${tableName}"; --`,
      `${tableName} --`,
      `${tableName}/**/`,
      `public.${tableName}; DELETE FROM ${tableName}`,
      'pg_catalog.pg_class; --',
      `${tableName}$1`,
      `${tableName}\u0000`,
    ];
    for (const name of names) {
      expectThrowsNow(
        () => suite.adapter.fromSingle(suite.primary, { tableName: name }),
        'INVALID_CONFIGURATION',
      );
      expectThrowsNow(
        () => suite.adapter.fromPrimaryAndReplica(suite.primary, suite.replica, { tableName: name }),
        'INVALID_CONFIGURATION',
      );
    }
    expect(await suite.raw.relationExists(table)).toBe(true);
    expect(await suite.raw.count(table)).toBe(9);
  });

  test('filters beyond the limits (deep values, huge types, too many predicates, bad dates) are refused with InvalidFilterError', async () => {
    const { store, table } = await suite.newStore('single');
    const match = () => buildEventFilter().matching();
    const tooMany = Array.from({ length: 1000 }, (_, index) => P('BookID', `book-${index}`));
    const attempts: [string, () => EventFilter][] = [
      [
        'a predicate value nested 10,000 deep',
        () =>
          match()
            .allPredicatesOf(P('BookID', nested(10_000) as never))
            .finalize(),
      ],
      [
        '1,000 predicates',
        () =>
          match()
            .anyPredicateOf(P('first', 1), ...tooMany)
            .finalize(),
      ],
      ['an event type of 3,000 bytes', () => match().anyEventTypeOf('T'.repeat(3000)).finalize()],
      [
        'a time bound in year 10000',
        () =>
          buildEventFilter()
            .occurredFrom(new Date(Date.UTC(10000, 0, 1)))
            .finalize(),
      ],
    ];
    for (const [what, build] of attempts) {
      const error = await expectFailure(build, 'INVALID_FILTER');
      expect(error.message, what).toMatch(/limit|range|bytes|years/);
    }
    // The same shapes written by hand reach the store and are refused there, before any statement.
    const handMade = { items: [{ eventTypes: [], predicates: tooMany, allPredicatesMustMatch: false }] };
    await expectFailure(() => store.query(undefined, handMade as EventFilter), 'INVALID_FILTER');
    await expectFailure(
      () => store.append(undefined, handMade as EventFilter, 0n, bookEvent(LENT, { BookID: BOOK_1 })),
      'INVALID_FILTER',
    );
    expect(await suite.raw.count(table)).toBe(0);
  });

  test('invalid events are refused by buildStorableEvent with InvalidEventError', async () => {
    for (const [problem, override] of INVALID_EVENTS) {
      const error = await expectFailure(
        () =>
          buildStorableEvent(invalidInput(override) as unknown as Parameters<typeof buildStorableEvent>[0]),
        'INVALID_EVENT',
      );
      expect(error.message, problem).not.toContain(BOOK_1);
    }
  });

  test('invalid events handed to append without the builder: InvalidEventError, nothing inserted', async () => {
    const { store, table } = await suite.newStore('single');
    const filter = buildEventFilter().matchingAnyEvent();
    const valid = bookEvent(ADDED, { BookID: BOOK_1 });
    for (const [problem, override] of INVALID_EVENTS) {
      const invalid = invalidInput(override) as unknown as StorableEvent;
      await expectFailure(() => store.append(undefined, filter, 0n, invalid), 'INVALID_EVENT');
      // Atomic: the valid events of the same call are not inserted either.
      await expectFailure(() => store.append(undefined, filter, 0n, valid, invalid, valid), 'INVALID_EVENT');
      expect(await suite.raw.count(table), problem).toBe(0);
    }
    // The control: the valid event alone is accepted.
    await store.append(undefined, filter, 0n, valid);
    expect(await suite.raw.count(table)).toBe(1);
  });
}
