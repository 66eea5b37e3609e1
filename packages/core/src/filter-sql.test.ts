import { describe, expect, it } from 'vitest';
import { P } from './filter.js';
import { buildEventFilter } from './filter-builder.js';
import { containments, guardExpression, Params, readCondition } from './filter-sql.js';

const params = () => new Params((position) => `$${position}`);

describe('filter SQL', () => {
  it('guards a types-only item with one index-end max per type', () => {
    const filter = buildEventFilter().matching().anyEventTypeOf('A', 'B').finalize();
    const p = params();
    expect(guardExpression(filter, 't', p)).toBe(
      'coalesce(greatest((SELECT max(sequence_number) FROM t WHERE event_type = $1::text), ' +
        '(SELECT max(sequence_number) FROM t WHERE event_type = $2::text)), 0)',
    );
    expect(p.values).toEqual(['A', 'B']);
  });

  it('fences only the payload containment of an item with predicates; types and bounds filter above it', () => {
    const filter = buildEventFilter()
      .matching()
      .anyEventTypeOf('A')
      .andAllPredicatesOf(P('BookID', 'b'), P('n', 1))
      .occurredFrom(new Date('2024-01-01T00:00:00Z'))
      .finalize();
    const p = params();
    const sql = guardExpression(filter, 't', p);
    expect(sql).toBe(
      'coalesce(greatest((SELECT max(sequence_number) FROM (SELECT sequence_number, event_type, occurred_at FROM t ' +
        'WHERE payload @> $2::text::jsonb OFFSET 0) AS matching WHERE event_type = $3::text ' +
        'AND occurred_at >= $1::text::timestamptz)), 0)',
    );
    // All-of predicates on distinct keys become one containment object.
    expect(JSON.parse(p.values[1] as string)).toEqual({ BookID: 'b', n: 1 });
  });

  it('keeps all-of predicates on one key as separate containments, and ORs any-of predicates', () => {
    const allOf = buildEventFilter()
      .matching()
      .allPredicatesOf(P('k', [1]), P('k', [2]))
      .finalize();
    const p = params();
    expect(readCondition(allOf, p)).toBe('(payload @> $1::text::jsonb AND payload @> $2::text::jsonb)');
    const anyOf = buildEventFilter()
      .matching()
      .anyPredicateOf(P('a', 1), P('b', 2))
      .orMatching()
      .anyEventTypeOf('T')
      .finalize();
    expect(readCondition(anyOf, params())).toBe(
      '(((payload @> $1::text::jsonb OR payload @> $2::text::jsonb)) OR (event_type = $3::text))',
    );
  });

  it('reads every event of a filter without items, within its bounds', () => {
    expect(readCondition(buildEventFilter().matchingAnyEvent(), params())).toBe('true');
    const bounded = buildEventFilter().withSequenceNumberHigherThan(7n).finalize();
    const p = params();
    expect(readCondition(bounded, p)).toBe('sequence_number > $1::text::bigint');
    expect(guardExpression(bounded, 't', params())).toBe(
      'coalesce(greatest((SELECT max(sequence_number) FROM t WHERE sequence_number > $1::text::bigint)), 0)',
    );
  });

  it('gives the payload containments of a filter made of them, each with the event types of its item', () => {
    const filter = buildEventFilter()
      .matching()
      .anyEventTypeOf('A', 'B')
      .andAllPredicatesOf(P('BookID', 'b'), P('n', 1))
      .orMatching()
      .anyPredicateOf(P('ReaderID', 'r'), P('flag', true))
      .finalize();
    expect(containments(filter)).toEqual([
      { payload: { BookID: 'b', n: 1 }, eventTypes: ['A', 'B'] },
      { payload: { ReaderID: 'r' }, eventTypes: [] },
      { payload: { flag: true }, eventTypes: [] },
    ]);
  });

  it('gives no containments for a filter the static guard does not take', () => {
    const bound = new Date('2024-01-01T00:00:00Z');
    const refused = [
      buildEventFilter().matchingAnyEvent(),
      buildEventFilter().matching().anyEventTypeOf('A').finalize(),
      buildEventFilter().matching().anyEventTypeOf('A').orMatching().anyPredicateOf(P('k', 1)).finalize(),
      buildEventFilter()
        .matching()
        .allPredicatesOf(P('k', [1]), P('k', [2]))
        .finalize(),
      buildEventFilter().matching().anyPredicateOf(P('k', 1)).occurredFrom(bound).finalize(),
      buildEventFilter().matching().anyPredicateOf(P('k', 1)).occurredUntil(bound).finalize(),
      buildEventFilter().matching().anyPredicateOf(P('k', 1)).withSequenceNumberHigherThan(3n).finalize(),
    ];
    for (const filter of refused) expect(containments(filter)).toBeUndefined();
  });
});
