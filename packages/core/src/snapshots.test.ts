import { describe, expect, it } from 'vitest';
import { P } from './filter.js';
import { buildEventFilter } from './filter-builder.js';
import { checkProjectionType, checkState, filterHash } from './snapshots.js';

describe('snapshots', () => {
  it('hashes equal filters alike however they were built, and different ones differently', async () => {
    const a = buildEventFilter()
      .matching()
      .anyEventTypeOf('Lent', 'Added')
      .andAllPredicatesOf(P('BookID', 'b-1'), P('Copy', 1))
      .orMatching()
      .anyEventTypeOf('Returned')
      .finalize();
    const b = buildEventFilter()
      .matching()
      .anyEventTypeOf('Returned')
      .orMatching()
      .anyEventTypeOf('Added', 'Lent', 'Added')
      .andAllPredicatesOf(P('Copy', 1), P('BookID', 'b-1'))
      .finalize();
    const other = buildEventFilter().matching().anyEventTypeOf('Returned').finalize();
    expect(await filterHash(a)).toMatch(/^[0-9a-f]{64}$/);
    expect(await filterHash(a)).toBe(await filterHash(b));
    expect(await filterHash(a)).not.toBe(await filterHash(other));
    // The hash keys stored snapshots: it must never change between releases. Computed independently:
    // sha256 of {"items":[{"all":true,"predicates":[],"types":["Returned"]}],"occurredFrom":null,...}
    expect(await filterHash(other)).toBe('86c9faf0ac947561844f1b16df8ad800ad9596075ccbb1b31accebe8afd6648a');
  });

  it('refuses a bad projection type or state with InvalidArgumentError, never echoing the state', () => {
    expect(() => checkProjectionType('')).toThrow(/projection type/);
    expect(() => checkProjectionType(42)).toThrow(/projection type/);
    expect(() => checkState({ secret: 1n })).toThrow(/state/);
    expect(() => checkState('[1]')).toThrow(/must be a JSON object/);
    expect(() => checkState({ secret: () => 1 })).not.toThrow(/secret-value/);
    expect(checkState('{"count": 2}')).toEqual({ count: 2 });
  });
});
