import { describe, expect, it } from 'vitest';
import { InvalidConfigurationError } from './errors.js';
import { parseTableName } from './table-name.js';

describe('parseTableName', () => {
  it('quotes plain and schema-qualified names and derives function names', () => {
    expect(parseTableName().table).toBe('"events"');
    const names = parseTableName('app.Events_2');
    expect(names.table).toBe('"app"."Events_2"');
    expect(names.schema).toBe('"app"');
    expect(names.derived('_append')).toBe('"app"."Events_2_append"');
  });

  it.each([
    '',
    ' ',
    '1abc',
    'a-b',
    'a b',
    'a.b.c',
    '"x"',
    'events; drop table x',
    "e'vents",
    'a.',
    '.a',
    'x'.repeat(49),
    'é',
  ])('rejects %j', (name) => {
    expect(() => parseTableName(name)).toThrow(InvalidConfigurationError);
  });

  it('rejects a name that is not a string', () => {
    expect(() => parseTableName(42)).toThrow(InvalidConfigurationError);
  });
});
