import {
  buildEventFilter,
  buildStorableEvent,
  type JsonObject,
  withEventualConsistency,
  withStrongConsistency,
} from '@es/core';
import { expect } from 'vitest';
import { collect } from '../fixtures.js';
import type { ConformanceSuite, RegisterTest } from '../suite-context.js';

/** SPEC §3.8: payload and metadata round-trip as JSON values; occurredAt as a UTC instant, to the millisecond. */

const PAYLOADS: readonly JsonObject[] = [
  { BookID: 'book-1', ReaderID: 'reader-1' },
  { z: 1, a: 2, m: { y: [3, { b: true, a: null }], x: 'x' } },
  { title: '図書館 📚 café cafe\u0301', quote: `it's "quoted" \\ back`, control: 'a\tb\nc\u0001' },
  { int: 42, negative: -7, float: 3.25, tiny: 1e-9, big: Number.MAX_SAFE_INTEGER, zero: 0, exp: 1.5e300 },
  { yes: true, no: false, nothing: null, empty: '', emptyObject: {}, emptyArray: [] },
  { deep: { a: { b: { c: { d: { e: { f: ['g', { h: 'i' }] } } } } } } },
  { list: [1, 'two', null, true, { three: 3 }, [4, [5]]] },
  { 'key with spaces': 1, 'dotted.key': 2, "it's": 3, '📚': 4, '': 5 },
  { long: 'x'.repeat(10_000) },
];

const METADATA: readonly JsonObject[] = [
  {},
  { correlationId: 'c-1', causationId: 'e-0', tenant: 'ü' },
  { trace: { spanId: 'abc', sampled: true, baggage: [1, 2] } },
];

const INSTANTS: readonly string[] = [
  '2024-02-29T23:59:59.999Z',
  '2024-03-31T01:30:00.001Z',
  '1970-01-01T00:00:00.000Z',
  '1969-12-31T23:59:59.999Z',
  '2000-01-01T00:00:00.500Z',
  '1900-06-15T12:34:56.789Z',
  '2038-01-19T03:14:08.123Z',
  '2999-12-31T23:59:59.999Z',
];

/** Times a plain INSERT may store that the store never writes: microseconds, before year 1, after 9999. */
const SQL_TIMES: readonly string[] = [
  '2026-12-04 18:46:00.123999+00',
  '1969-12-31 23:59:59.999999+00',
  '1900-01-01 12:00:00.5+05:53:28',
  '0044-03-15 12:00:00.123456+00 BC',
  '12000-01-01 00:00:00.9999+00',
];

export function jsonAndTime<H>(suite: ConformanceSuite<H>, test: RegisterTest): void {
  test('payload and metadata round-trip as equal JSON values (nested, unicode, numbers, key order free)', async () => {
    const { store, table } = await suite.newStore('single');
    const occurredAt = new Date(Date.UTC(2024, 0, 1));
    const events = PAYLOADS.map((payload, index) =>
      buildStorableEvent({
        type: 'JsonProbed',
        occurredAt,
        payload,
        metadata: METADATA[index % METADATA.length] ?? {},
      }),
    );
    const { sequenceNumbers } = await store.append(
      undefined,
      buildEventFilter().matchingAnyEvent(),
      0n,
      ...events,
    );
    const read = await store.query(undefined, buildEventFilter().matchingAnyEvent());
    expect(read.events.map((event) => event.sequenceNumber)).toEqual(sequenceNumbers);
    expect(read.events.map((event) => event.payload)).toEqual(PAYLOADS);
    expect(read.events.map((event) => event.metadata)).toEqual(
      PAYLOADS.map((_, index) => METADATA[index % METADATA.length]),
    );
    // Stored as the same JSON, read by raw SQL.
    const stored = await suite.raw.events(table);
    expect(stored.map((event) => event.payload)).toEqual(PAYLOADS);
    expect(stored.map((event) => event.metadata)).toEqual(
      PAYLOADS.map((_, index) => METADATA[index % METADATA.length]),
    );
    const [types] = await suite.raw.query<{ payload: string; metadata: string }>(
      `SELECT pg_typeof(payload)::text AS payload, pg_typeof(metadata)::text AS metadata FROM ${table} LIMIT 1`,
    );
    expect(types).toEqual({ payload: 'jsonb', metadata: 'jsonb' });
  });

  test('metadata left out is stored and read back as {}', async () => {
    const { store, table } = await suite.newStore('single');
    const event = buildStorableEvent({ type: 'NoMetadata', occurredAt: new Date(), payload: { a: 1 } });
    await store.append(undefined, buildEventFilter().matchingAnyEvent(), 0n, event);
    const [read] = (await store.query(undefined, buildEventFilter().matchingAnyEvent())).events;
    expect(read?.metadata).toEqual({});
    expect((await suite.raw.events(table))[0]?.metadata).toEqual({});
  });

  test('occurredAt round-trips as a Date at millisecond precision and is stored as a UTC instant', async () => {
    const { store, table } = await suite.newStore('single');
    const events = INSTANTS.map((iso, index) =>
      buildStorableEvent({ type: 'TimeProbed', occurredAt: new Date(iso), payload: { index } }),
    );
    const { sequenceNumbers } = await store.append(
      undefined,
      buildEventFilter().matchingAnyEvent(),
      0n,
      ...events,
    );
    const read = await store.query(undefined, buildEventFilter().matchingAnyEvent());
    expect(read.events.map((event) => event.sequenceNumber)).toEqual(sequenceNumbers);
    for (const event of read.events) expect(event.occurredAt).toBeInstanceOf(Date);
    expect(read.events.map((event) => event.occurredAt.toISOString())).toEqual(INSTANTS);

    // Raw SQL, in a session whose time zone is far from UTC: the stored instant is the same.
    const session = await suite.raw.begin();
    try {
      await session.query("SET LOCAL TIME ZONE 'Asia/Kathmandu'");
      const { rows } = await session.query(
        `SELECT (extract(epoch FROM occurred_at) * 1000)::numeric::text AS epoch_ms,
                to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS utc,
                pg_typeof(occurred_at)::text AS type
         FROM ${table} ORDER BY sequence_number`,
      );
      expect(rows.map((row) => Number(row.epoch_ms))).toEqual(INSTANTS.map((iso) => Date.parse(iso)));
      expect(rows.map((row) => row.utc)).toEqual(INSTANTS);
      expect(new Set(rows.map((row) => row.type))).toEqual(new Set(['timestamp with time zone']));
    } finally {
      await session.rollback();
    }
  });

  test('times stored by plain SQL are read at the millisecond below, by every kind of read', async () => {
    const { store, table } = await suite.newStore('single');
    await suite.raw.query(
      `INSERT INTO ${table} (event_type, occurred_at, payload)
       SELECT 'TimeWritten', time::timestamptz, '{}' FROM unnest($1::text[]) WITH ORDINALITY AS t(time, n) ORDER BY n`,
      [SQL_TIMES],
    );
    const rows = await suite.raw.query<{ ms: string }>(
      `SELECT floor(extract(epoch FROM occurred_at) * 1000)::text AS ms FROM ${table} ORDER BY sequence_number`,
    );
    const expected = rows.map((row) => Number(row.ms));
    expect(expected).toHaveLength(SQL_TIMES.length);
    const all = buildEventFilter().matchingAnyEvent();
    const reads = [
      (await store.query(withEventualConsistency(), all)).events,
      (await store.query(withStrongConsistency(), all)).events,
      await collect(store.queryStream(withEventualConsistency(), all, { batchSize: 2 })),
      await collect(store.queryStream(withStrongConsistency(), all, { batchSize: 2 })),
    ];
    for (const events of reads) expect(events.map((event) => event.occurredAt.getTime())).toEqual(expected);
  });

  test('time bounds compare instants, not wall-clock text: a bound in another offset selects the same events', async () => {
    const { store } = await suite.newStore('single');
    const events = INSTANTS.map((iso, index) =>
      buildStorableEvent({ type: 'TimeProbed', occurredAt: new Date(iso), payload: { index } }),
    );
    await store.append(undefined, buildEventFilter().matchingAnyEvent(), 0n, ...events);
    // 2024-03-01T05:45:00+05:45 is 2024-03-01T00:00:00Z: only the events at or after it.
    const from = new Date('2024-03-01T05:45:00.000+05:45');
    const read = await store.query(undefined, buildEventFilter().occurredFrom(from).finalize());
    const expected = INSTANTS.filter((iso) => Date.parse(iso) >= from.getTime());
    expect(read.events.map((event) => event.occurredAt.toISOString())).toEqual(expected);
  });
}
