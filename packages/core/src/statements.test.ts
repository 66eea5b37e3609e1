import { describe, expect, it } from 'vitest';
import { P } from './filter.js';
import { buildEventFilter } from './filter-builder.js';
import {
  appendStatement,
  cancelBackendStatement,
  encodeFilter,
  migrationStepStatements,
  queryStatement,
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

describe('statements', () => {
  it('never put a value into SQL text: every value is a bind parameter', () => {
    for (const statement of [
      queryStatement(names, filter, true),
      appendStatement(names, filter, 7n, [event]),
    ]) {
      expect(statement.text).not.toContain('DROP');
      expect(statement.text).toMatch(/\$1::text::jsonb/);
      expect(statement.values.join('')).toContain('DROP TABLE');
    }
  });

  it('cast every typed parameter through text, so drivers that serialise by parameter type send it unchanged', () => {
    for (const statement of [
      queryStatement(names, filter, true),
      appendStatement(names, filter, 7n, [event]),
      cancelBackendStatement('42'),
    ]) {
      const casts = [...statement.text.matchAll(/\$\d+::(\w+)/g)].map((match) => match[1]);
      expect(casts.length).toBeGreaterThan(0);
      expect(casts.every((type) => type === 'text')).toBe(true);
    }
  });

  it('encode the filter as JSON items, predicates as containment objects, bounds as ISO text', () => {
    expect(JSON.parse(encodeFilter(filter))).toEqual({
      items: [
        {
          types: ['B', hostile].sort(),
          predicates: expect.arrayContaining([{ n: 1 }, { [hostile]: hostile }]),
          all: true,
        },
        { types: [], predicates: [{ k: { nested: hostile } }], all: false },
      ],
      from: '2024-01-01T00:00:00.000Z',
      until: '2024-12-31T00:00:00.000Z',
    });
    const bySequence = buildEventFilter().withSequenceNumberHigherThan(9007199254740993n).finalize();
    expect(JSON.parse(encodeFilter(bySequence))).toEqual({ items: [], after: '9007199254740993' });
  });

  it('ask for the read barrier only when told to (strong reads)', () => {
    expect(queryStatement(names, filter, false).values[1]).toBe('false');
    expect(queryStatement(names, filter, true).values[1]).toBe('true');
  });

  it('call the table functions through quoted, qualified names', () => {
    expect(queryStatement(names, filter, true).text).toContain('"app"."events_query"(');
    expect(appendStatement(names, filter, 0n, [event]).text).toContain('"app"."events_append"(');
  });

  it('create the payload index without the GIN pending list (fastupdate = off)', () => {
    const ddl = migrationStepStatements(names, 1)
      .map((statement) => statement.text)
      .join('\n');
    expect(ddl).toMatch(/USING gin \(payload jsonb_path_ops\) WITH \(fastupdate = off\)/);
    expect(ddl).toContain('CREATE TABLE IF NOT EXISTS "app"."events"');
  });
});
