import { describe, expect, it } from 'vitest';
import { appendRequest } from './append-request.js';
import { P } from './filter.js';
import { buildEventFilter } from './filter-builder.js';
import { filterKeys } from './lock-keys.js';
import { decodeAppendOutcomes } from './rows.js';
import {
  appendStatement,
  cancelBackendStatement,
  migrationStepStatements,
  queryStatement,
  textArray,
} from './statements.js';
import { buildStorableEvent } from './storable-event.js';
import { parseTableName } from './table-name.js';

const names = parseTableName('app.events');
const hostile = `x'); DROP TABLE events; --"\\`;
const filter = buildEventFilter()
  .matching()
  .anyEventTypeOf(hostile, 'B')
  .andAllPredicatesOf(P(hostile, hostile), P('n', 1))
  .orMatching()
  .anyPredicateOf(P('k', { nested: hostile }))
  .occurredFrom(new Date('2024-01-01T00:00:00Z'))
  .andOccurredUntil(new Date('2024-12-31T00:00:00Z'))
  .finalize();
const event = buildStorableEvent({ type: hostile, occurredAt: new Date(0), payload: { [hostile]: hostile } });
const append = appendStatement(names, [appendRequest(filter, 7n, [event])]);
const eventual = queryStatement(names, filter, false);
const strong = queryStatement(names, filter, true);

/** The SQL a statement runs: its text, and the SQL it hands to a server function as a parameter. */
const sqlOf = (statement: { text: string; values: readonly (string | null)[] }) =>
  statement === strong
    ? [statement.text, statement.values[1] as string]
    : statement === append
      ? [statement.text, statement.values[3] as string]
      : [statement.text];

describe('statements', () => {
  it('never put a value into SQL text: every value is a bind parameter', () => {
    for (const statement of [eventual, strong, append]) {
      for (const sql of sqlOf(statement)) expect(sql).not.toContain('DROP');
      expect(statement.values.join('')).toContain('DROP TABLE');
    }
  });

  it('cast every typed parameter through text, so drivers that serialise by parameter type send it unchanged', () => {
    for (const statement of [eventual, strong, append, cancelBackendStatement('42')]) {
      const casts = [...statement.text.matchAll(/\$\d+::(\w+)/g)].map((match) => match[1]);
      expect(casts.length).toBeGreaterThan(0);
      expect(casts.every((type) => type === 'text')).toBe(true);
    }
    // Inside the SQL a function runs, values are elements of one text array.
    for (const sql of [strong.values[1], append.values[3]] as string[]) {
      expect(sql).toMatch(/\$1\[\d+\]::text/);
      expect(sql).not.toMatch(/\$1\[\d+\](?!::text)/);
    }
  });

  it('read eventually with one plain SELECT, and strongly through the read function with the filter keys', () => {
    expect(eventual.text).toMatch(/^SELECT .* FROM "app"."events" WHERE /s);
    expect(eventual.text).not.toContain('events_read');
    expect(strong.text).toContain('"app"."events_read"($1::text::text[], $2::text, $3::text::text[])');
    expect(strong.values[0]).toBe(textArray(filterKeys(filter)));
    expect(strong.values[1]).toContain('"app"."events".sequence_number <= $2');
  });

  it('read a filter of payload containments strongly through the static read, its containments as (payload, types) values', () => {
    const boundary = buildEventFilter()
      .matching()
      .anyEventTypeOf(hostile)
      .andAllPredicatesOf(P('BookID', hostile), P('n', 1))
      .orMatching()
      .anyPredicateOf(P('a', 1), P('b', 'x'))
      .finalize();
    const read = queryStatement(names, boundary, true);
    expect(read.text).toContain('"app"."events_read_matching"($1::text::text[], $2::text::text[])');
    expect(read.text).not.toContain('DROP');
    expect(read.values).toEqual([
      textArray(filterKeys(boundary)),
      textArray([
        JSON.stringify({ BookID: hostile, n: 1 }),
        JSON.stringify([hostile]),
        '{"a":1}',
        '[]',
        '{"b":"x"}',
        '[]',
      ]),
    ]);
    // The same filter with a bound goes to the read function running the SELECT built here.
    const bounded = buildEventFilter()
      .matching()
      .anyPredicateOf(P('a', 1))
      .occurredFrom(new Date(0))
      .finalize();
    expect(queryStatement(names, bounded, true).text).toContain('"app"."events_read"(');
  });

  it('order by the position column, not by its text alias (text order puts 10 before 9)', () => {
    for (const sql of [eventual.text, strong.values[1] as string]) {
      expect(sql).toMatch(/ORDER BY "app"\."events"\.sequence_number$/);
    }
  });

  it('append a batch: union of lock keys, one guard per append, expected maxima and events in order', () => {
    const other = buildEventFilter().matching().allPredicatesOf(P('BookID', 'b-2')).finalize();
    const second = buildStorableEvent({ type: 'T', occurredAt: new Date(0), payload: { BookID: 'b-2' } });
    const batch = appendStatement(names, [
      appendRequest(filter, 7n, [event]),
      appendRequest(other, 0n, [second, second]),
    ]);
    expect(batch.text).toContain('"app"."events_append"(');
    expect(batch.values[2]).toBe('false');
    expect((batch.values[3] as string).match(/coalesce\(greatest\(/g)).toHaveLength(2);
    expect(batch.values[5]).toBe('{7,0}');
    expect(batch.values[7]).toBe('false');
    const events = JSON.parse(batch.values[6] as string);
    expect(events.map((appended: unknown[]) => appended.length)).toEqual([1, 2]);
    expect(events[1][0]).toEqual({
      type: 'T',
      occurredAt: '1970-01-01T00:00:00.000Z',
      payload: { BookID: 'b-2' },
      metadata: {},
    });
  });

  it('append a batch of containment filters: no guard text, the containments as (append, payload, types) values', () => {
    const boundary = buildEventFilter()
      .matching()
      .anyEventTypeOf(hostile)
      .andAllPredicatesOf(P('BookID', hostile))
      .finalize();
    const either = buildEventFilter().matching().anyPredicateOf(P('a', 1), P('b', 'x')).finalize();
    const batch = appendStatement(names, [
      appendRequest(boundary, 3n, [event]),
      appendRequest(either, 0n, [event]),
    ]);
    expect(batch.values[3]).toBeNull();
    expect(batch.values[4]).toBe(
      textArray([
        '1',
        JSON.stringify({ BookID: hostile }),
        JSON.stringify([hostile]),
        '2',
        '{"a":1}',
        '[]',
        '2',
        '{"b":"x"}',
        '[]',
      ]),
    );
    expect(batch.values[5]).toBe('{3,0}');
    expect(batch.text).not.toContain('DROP');
  });

  it('append events with ids: the ids go with the events, and the function is told to look them up', () => {
    const id = '0b7e6f5a-1c2d-4e3f-8a9b-0c1d2e3f4a5b';
    const identified = buildStorableEvent({ type: 'T', occurredAt: new Date(0), payload: {}, id });
    const batch = appendStatement(names, [appendRequest(filter, 0n, [identified])]);
    expect(JSON.parse(batch.values[6] as string)[0][0].id).toBe(id);
    expect(batch.values[7]).toBe('true');
  });

  it('decode an append result: maxima, then inserted positions, then the positions of replayed appends', () => {
    const two = [event, event];
    const outcomes = decodeAppendOutcomes(
      [{ result: '{3,-1,9,4,5,11,12}' }],
      [
        { expected: 3n, events: two },
        { expected: 0n, events: two },
        { expected: 8n, events: [event] },
      ],
    );
    expect(outcomes).toEqual([
      { max: 3n, positions: [4n, 5n] },
      { max: 0n, positions: [11n, 12n] },
      { max: 9n, positions: undefined },
    ]);
  });

  it('quote text array elements, escaping quotes and backslashes', () => {
    expect(textArray([])).toBe('{}');
    expect(textArray(['a', 'b"c', 'd\\e', '{,}'])).toBe('{"a","b\\"c","d\\\\e","{,}"}');
  });

  it('create the payload index without the GIN pending list (fastupdate = off)', () => {
    const ddl = migrationStepStatements(names, 1)
      .map((statement) => statement.text)
      .join('\n');
    expect(ddl).toMatch(/USING gin \(payload jsonb_path_ops\) WITH \(fastupdate = off\)/);
    expect(ddl).toContain('CREATE TABLE IF NOT EXISTS "app"."events"');
  });
});
