import { describe, expect, it } from 'vitest';
import { QueryFailedError } from './errors.js';
import { decodeEvent, parseTimestamp } from './rows.js';

describe('parseTimestamp', () => {
  // Each text is what PostgreSQL 15 wrote for to_json(t) (in the session zone Europe/Amsterdam, or UTC),
  // and each number what it computed as floor(extract(epoch FROM t) * 1000).
  const written: readonly [string, number][] = [
    ['2026-12-04T19:46:00.123999+01:00', 1796409960123],
    ['1970-01-01T00:59:59.9999+01:00', -1],
    ['1900-01-01T12:19:32.5+00:19:32', -2208945599500],
    ['0099-06-30T00:19:32+00:19:32', -59027443200000],
    ['0044-03-15T12:19:32.123456+00:19:32 BC', -63517780799877],
    ['12000-01-01T01:00:00.9999+01:00', 316516204800999],
    ['0001-02-29T00:00:00+00:00 BC', -62162121600000],
    ['2024-03-01T01:00:00.12+01:00', 1709251200120],
    ['2024-03-01T01:00:00.123+01:00', 1709251200123],
    ['2024-03-01T01:00:00+01:00', 1709251200000],
  ];
  it.each(written)('reads %s at the millisecond below, as the server computes it', (text, ms) => {
    expect(parseTimestamp(text).getTime()).toBe(ms);
  });

  it('reads negative offsets, with and without minutes', () => {
    expect(parseTimestamp('2024-02-29T20:30:00.001-03:30').toISOString()).toBe('2024-03-01T00:00:00.001Z');
    expect(parseTimestamp('2024-02-29T21:00:00-03').toISOString()).toBe('2024-03-01T00:00:00.000Z');
  });

  it.each(['infinity', '-infinity', '2024-02-29 23:59:59+00', '', '2024-02-29T23:59:59'])(
    'refuses %j with a typed error',
    (text) => {
      expect(() => parseTimestamp(text)).toThrow(QueryFailedError);
    },
  );

  it('refuses a time outside the range of a JavaScript Date', () => {
    expect(() => parseTimestamp('294276-12-31T23:59:59.999999+00:00')).toThrow(/outside the range/);
  });
});

describe('decodeEvent', () => {
  it('decodes the event column and the strong read columns alike', () => {
    const fromJson = decodeEvent({
      event: JSON.stringify(['7', 'Lent', '2024-03-01T00:00:00.001+00:00', { BookID: 'b' }, {}, null]),
    });
    const fromColumns = decodeEvent({
      sequence_number: '7',
      event_type: 'Lent',
      occurred_at_ms: String(Date.parse('2024-03-01T00:00:00.001Z')),
      payload: '{"BookID": "b"}',
      metadata: '{}',
      id: null,
    });
    expect(fromJson).toEqual(fromColumns);
    expect(fromJson).toEqual({
      sequenceNumber: 7n,
      type: 'Lent',
      occurredAt: new Date('2024-03-01T00:00:00.001Z'),
      payload: { BookID: 'b' },
      metadata: {},
    });
  });

  it('keeps an id', () => {
    const id = '0b7e0f8e-4b1d-4d6c-9a51-5f3f4f6b2a10';
    const event = decodeEvent({ event: JSON.stringify(['1', 'T', '2024-03-01T00:00:00+00:00', {}, {}, id]) });
    expect(event.id).toBe(id);
  });

  it('refuses an event column that is not a stored event', () => {
    expect(() => decodeEvent({ event: '[1, "T"]' })).toThrow(QueryFailedError);
  });
});

describe('parseTimestamp, the common form read in place', () => {
  it('agrees with Date.parse on every fraction length and offset', () => {
    for (const fraction of ['', '.1', '.12', '.123', '.1234', '.12345', '.123456']) {
      for (const offset of ['+00:00', '+05:45', '-03:30', '+14:00']) {
        const text = `2024-02-29T23:59:59${fraction}${offset}`;
        const milliseconds = fraction.slice(1, 4).padEnd(3, '0');
        expect(parseTimestamp(text).getTime()).toBe(
          Date.parse(`2024-02-29T23:59:59.${milliseconds}${offset}`),
        );
      }
    }
  });

  it.each(['2024-02-29T23:59:59.+00:00', '2024-02-29X23:59:59+00:00', '2024-02-29T23:59:59+0a:00'])(
    'leaves %j to the general form, which refuses it',
    (text) => {
      expect(() => parseTimestamp(text)).toThrow(QueryFailedError);
    },
  );
});
