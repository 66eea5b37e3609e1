import {
  buildEventFilter,
  buildStorableEvent,
  type EventFilter,
  encodeFilter,
  matchesFilter,
  P,
  type Predicate,
  parseTableName,
  type StorableEvent,
} from '@es/core';
import { describe, expect, it } from 'vitest';
import { freshTable, instance, useCluster } from './helpers.js';

/**
 * The soundness rule of the lock protocol (packages/core/src/lock-functions.ts), checked on the SQL
 * functions themselves: every event that matches a filter shares a lock key with it. Random filters and
 * events from a small universe, so that they overlap; matching decided by the in-memory reference.
 */

// A deterministic pseudo-random generator, so that a failure is reproducible.
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
  '1',
  1,
  1.5,
  100,
  true,
  null,
  { nested: 'x' },
  { nested: 'y', more: 2 },
  [1, 2],
  [2],
  {},
] as const;
const KEYS = ['BookID', 'ReaderID', 'Shelf'];

function randomEvent(next: () => number): StorableEvent {
  const payload: Record<string, unknown> = {};
  for (const key of KEYS) if (next() < 0.7) payload[key] = VALUES[Math.floor(next() * VALUES.length)];
  const type = TYPES[Math.floor(next() * TYPES.length)] as string;
  return buildStorableEvent({ type, occurredAt: new Date(0), payload: payload as never });
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
    const types = [TYPES[Math.floor(next() * TYPES.length)] as string] as [string];
    const completed = [
      () => builder.anyEventTypeOf(...types),
      () => builder.anyPredicateOf(...randomPredicates(next)),
      () => builder.allPredicatesOf(...randomPredicates(next)),
      () => builder.anyEventTypeOf(...types).andAnyPredicateOf(...randomPredicates(next)),
      () => builder.anyEventTypeOf(...types).andAllPredicatesOf(...randomPredicates(next)),
    ][Math.floor(next() * 5)]?.();
    if (!completed) throw new Error('unreachable');
    if (index + 1 === items) return completed.finalize();
    builder = completed.orMatching();
  }
}

describe('lock keys (SQL)', () => {
  const cluster = useCluster();

  it('every event matching a filter shares a key with it (600 x 200 random pairs)', async () => {
    const table = freshTable('keys');
    const app = instance(cluster(), table);
    try {
      await app.store.migrate();
      const names = parseTableName(table);
      const next = random(42);
      const filters = Array.from({ length: 600 }, () => randomFilter(next));
      const events = Array.from({ length: 200 }, () => randomEvent(next));
      const filterKeys = await app.primary.query(
        `SELECT ${names.derived('_filter_keys')}(filter) AS keys
         FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS input (filter, position) ORDER BY position`,
        [`[${filters.map(encodeFilter).join(',')}]`],
      );
      const eventKeys = await app.primary.query(
        `SELECT ${names.derived('_event_keys')}(jsonb_build_array(event)) AS keys
         FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS input (event, position) ORDER BY position`,
        [JSON.stringify(events)],
      );
      const eventKeySets = eventKeys.rows.map((row) => new Set<string>(row.keys));
      let matching = 0;
      const unsound: string[] = [];
      filters.forEach((filter, f) => {
        const keys: string[] = filterKeys.rows[f].keys;
        events.forEach((event, e) => {
          if (!matchesFilter(filter, event)) return;
          matching++;
          if (!keys.some((key) => eventKeySets[e]?.has(key)))
            unsound.push(`${encodeFilter(filter)} / ${JSON.stringify(event)}`);
        });
      });
      expect(matching).toBeGreaterThan(8_000);
      expect(unsound.slice(0, 5)).toEqual([]);
    } finally {
      await app.close();
    }
  });

  it('normalises numbers as jsonb compares them and tells value kinds apart', async () => {
    const table = freshTable('keys');
    const app = instance(cluster(), table);
    try {
      await app.store.migrate();
      const entryKey = parseTableName(table).derived('_entry_key');
      const { rows } = await app.primary.query(
        `SELECT ${entryKey}('k', '1') AS one, ${entryKey}('k', '1.0') AS one_point_zero, ${entryKey}('k', '1e0') AS exponent,
                ${entryKey}('k', '"1"') AS text, ${entryKey}('k', 'true') AS truth, ${entryKey}('k', '"true"') AS true_text,
                ${entryKey}('k', '{"a":1}') AS object_a, ${entryKey}('k', '{}') AS object_empty, ${entryKey}('k', '[1]') AS list`,
      );
      const keys = rows[0];
      expect(keys.one_point_zero).toBe(keys.one);
      expect(keys.exponent).toBe(keys.one);
      expect(new Set([keys.one, keys.text, keys.truth, keys.true_text, keys.object_a, keys.list]).size).toBe(
        6,
      );
      expect(keys.object_a).toBe(keys.object_empty);
    } finally {
      await app.close();
    }
  });
});
