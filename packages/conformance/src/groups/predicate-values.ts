import {
  buildEventFilter,
  buildStorableEvent,
  type JsonObject,
  type JsonValue,
  matchesFilter,
  P,
} from '@es/core';
import { expect } from 'vitest';
import type { RawDatabase } from '../raw-database.js';
import type { ConformanceSuite, RegisterTest, StoreUnderTest } from '../suite-context.js';

/**
 * SPEC §3.4, values: each predicate value reaches PostgreSQL as a bind parameter and matches exactly the
 * events whose payload contains it (jsonb `@>`), whatever characters or JSON type it holds.
 */

const PROBE_TYPE = 'ValueProbed';
const LONG = `${'📚'.repeat(2500)}${'x'.repeat(4999)}`;

/** Events with payload `{ probe: label, v: value }`. `raw`: inserted by raw SQL with this exact JSON text for v. */
interface ValueEvent {
  readonly label: string;
  readonly v?: JsonValue;
  readonly raw?: string;
}

const VALUE_EVENTS: readonly ValueEvent[] = [
  { label: 'apostrophe', v: "it's" },
  { label: 'double-quote', v: 'say "hi"' },
  { label: 'backslash', v: 'back\\slash' },
  { label: 'lone-backslash', v: '\\' },
  { label: 'escaped-quote', v: "\\'" },
  { label: 'percent', v: '%' },
  { label: 'percent-100', v: '100%' },
  { label: 'underscore', v: '_' },
  { label: 'a_b', v: 'a_b' },
  { label: 'emoji', v: '📚 library 🦉' },
  { label: 'cjk', v: '図書館の本' },
  { label: 'combining', v: 'cafe\u0301' },
  { label: 'precomposed', v: 'caf\u00e9' },
  { label: 'control', v: 'tab\there\nnew line\r\u0001' },
  { label: 'empty-string', v: '' },
  { label: 'int-1', v: 1 },
  { label: 'float-1.5', v: 1.5 },
  { label: 'negative', v: -42 },
  { label: 'zero', v: 0 },
  { label: 'max-safe', v: Number.MAX_SAFE_INTEGER },
  { label: 'tiny', v: 1e-7 },
  { label: 'true', v: true },
  { label: 'false', v: false },
  { label: 'null', v: null },
  { label: 'string-1', v: '1' },
  { label: 'string-true', v: 'true' },
  { label: 'string-null', v: 'null' },
  { label: 'object', v: { a: 1, b: { c: 'x' } } },
  { label: 'object-null', v: { a: null } },
  { label: 'array-num', v: [1, 2, 3] },
  { label: 'array-str', v: ['x', 'y'] },
  { label: 'long', v: LONG },
  { label: 'long-variant', v: `${LONG.slice(0, -1)}y` },
  { label: 'missing' },
  { label: 'raw-1.0', raw: '1.0' },
  { label: 'raw-1e0', raw: '1e0' },
  { label: 'raw-1.50', raw: '1.50' },
];

type Probe = readonly [value: JsonValue, expected: readonly string[]];

const VALUE_GROUPS: readonly { title: string; probes: readonly Probe[] }[] = [
  {
    title: 'strings with \', ", \\ and control characters',
    probes: [
      ["it's", ['apostrophe']],
      ['say "hi"', ['double-quote']],
      ['back\\slash', ['backslash']],
      ['\\', ['lone-backslash']],
      ["\\'", ['escaped-quote']],
      ['tab\there\nnew line\r\u0001', ['control']],
      ['', ['empty-string']],
    ],
  },
  {
    title: 'LIKE wildcards % and _ are plain characters',
    probes: [
      ['%', ['percent']],
      ['100%', ['percent-100']],
      ['_', ['underscore']],
      ['a_b', ['a_b']],
    ],
  },
  {
    title: 'unicode: emoji, CJK, combining marks (no normalisation)',
    probes: [
      ['📚 library 🦉', ['emoji']],
      ['図書館の本', ['cjk']],
      ['cafe\u0301', ['combining']],
      ['caf\u00e9', ['precomposed']],
    ],
  },
  {
    title: 'JSON numbers compare numerically (1 = 1.0 = 1e0), never as strings',
    probes: [
      [1, ['int-1', 'raw-1.0', 'raw-1e0']],
      [1.5, ['float-1.5', 'raw-1.50']],
      [-42, ['negative']],
      [0, ['zero']],
      [Number.MAX_SAFE_INTEGER, ['max-safe']],
      [1e-7, ['tiny']],
      ['1', ['string-1']],
    ],
  },
  {
    title: 'booleans and null are JSON values of their own type',
    probes: [
      [true, ['true']],
      [false, ['false']],
      [null, ['null']],
      ['true', ['string-true']],
      ['null', ['string-null']],
    ],
  },
  {
    title: 'nested objects match by containment',
    probes: [
      [{ a: 1 }, ['object']],
      [{ b: { c: 'x' } }, ['object']],
      [{ a: 1, b: { c: 'x' } }, ['object']],
      [{ a: 2 }, []],
      [{ a: null }, ['object-null']],
      [{}, ['object', 'object-null']],
    ],
  },
  {
    title: 'arrays match by containment, in any order',
    probes: [
      [[1, 2, 3], ['array-num']],
      [[3, 1], ['array-num']],
      [[4], []],
      [['y'], ['array-str']],
      [[], ['array-num', 'array-str']],
    ],
  },
  {
    title: 'long strings (10k characters) match exactly',
    probes: [
      [LONG, ['long']],
      [`${LONG.slice(0, -1)}y`, ['long-variant']],
      [LONG.slice(0, -1), []],
    ],
  },
];

const jsView = (event: ValueEvent): JsonObject =>
  event.raw !== undefined
    ? { probe: event.label, v: JSON.parse(event.raw) as JsonValue }
    : event.v === undefined
      ? { probe: event.label }
      : { probe: event.label, v: event.v };

/** Appends the value events through the store, then the raw ones by SQL (JS cannot write `1.0`). */
async function seed(under: StoreUnderTest, raw: RawDatabase): Promise<void> {
  const occurredAt = new Date(Date.UTC(2024, 0, 1));
  const stored = VALUE_EVENTS.filter((event) => event.raw === undefined).map((event) =>
    buildStorableEvent({ type: PROBE_TYPE, occurredAt, payload: jsView(event) }),
  );
  await under.store.append(undefined, buildEventFilter().matchingAnyEvent(), 0n, ...stored);
  for (const event of VALUE_EVENTS.filter((candidate) => candidate.raw !== undefined)) {
    await raw.query(
      `INSERT INTO ${under.table} (event_type, occurred_at, payload) VALUES ($1, $2, $3::jsonb)`,
      [PROBE_TYPE, occurredAt, `{"probe": ${JSON.stringify(event.label)}, "v": ${event.raw}}`],
    );
  }
}

const KEY_EVENTS: readonly string[] = [
  "it's",
  'a"b',
  'back\\slash',
  '%',
  '_',
  '📚',
  'a.b',
  '{a,b}',
  'a,b',
  '$1',
  ' ',
  'a b',
];

export function predicateValues<H>(suite: ConformanceSuite<H>, test: RegisterTest): void {
  for (const { title, probes } of VALUE_GROUPS) {
    test(`predicate values: ${title}`, async () => {
      const under = await suite.newStore('single');
      await seed(under, suite.raw);
      for (const [value, expected] of probes) {
        const filter = buildEventFilter().matching().allPredicatesOf(P('v', value)).finalize();
        const oracle = VALUE_EVENTS.filter((event) =>
          matchesFilter(filter, { type: PROBE_TYPE, occurredAt: new Date(0), payload: jsView(event) }),
        ).map((event) => event.label);
        expect(oracle, `matchesFilter for ${JSON.stringify(value).slice(0, 40)}`).toEqual(expected);
        const result = await under.store.query(undefined, filter);
        const labels = result.events.map((event) => event.payload.probe);
        expect(labels, `P('v', ${JSON.stringify(value).slice(0, 40)})`).toEqual(expected);
      }
      expect(await suite.raw.count(under.table)).toBe(VALUE_EVENTS.length);
    });
  }

  test('predicate keys with quotes, dots, braces, $ and spaces are plain keys, never paths', async () => {
    const { store, table } = await suite.newStore('single');
    const occurredAt = new Date(Date.UTC(2024, 0, 1));
    const events = [
      ...KEY_EVENTS.map((key) =>
        buildStorableEvent({ type: PROBE_TYPE, occurredAt, payload: { [key]: 1, probe: key } }),
      ),
      buildStorableEvent({ type: PROBE_TYPE, occurredAt, payload: { a: { b: 1 }, probe: 'nested a.b' } }),
    ];
    await store.append(undefined, buildEventFilter().matchingAnyEvent(), 0n, ...events);
    for (const key of KEY_EVENTS) {
      const result = await store.query(
        undefined,
        buildEventFilter().matching().allPredicatesOf(P(key, 1)).finalize(),
      );
      expect(
        result.events.map((event) => event.payload.probe),
        `P(${JSON.stringify(key)}, 1)`,
      ).toEqual([key]);
    }
    const nested = await store.query(
      undefined,
      buildEventFilter()
        .matching()
        .allPredicatesOf(P('a', { b: 1 }))
        .finalize(),
    );
    expect(nested.events.map((event) => event.payload.probe)).toEqual(['nested a.b']);
    expect(await suite.raw.count(table)).toBe(KEY_EVENTS.length + 1);
  });
}
